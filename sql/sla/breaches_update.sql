-- Breaches of clocks this run rewrote (stored before, _sla_changed): changed ones updated, and those that
-- late-arriving data voided (the promise was kept after all, or the deadline moved) marked 'corrected'.
-- _sla_found: each rewritten clock's two promises as breach candidates (store.breach_candidates).
UPDATE sla.breaches b
SET owner_id = x.owner_id, due_at = x.due_at, escalate_at = x.escalate_at,
    resolved_at = CASE WHEN x.breached = 1 THEN x.resolved_at ELSE x.evaluated_at END,
    resolution = CASE WHEN x.breached = 1 THEN x.resolution ELSE 'corrected' END
FROM _sla_found x JOIN _sla_changed c ON c.lead_id = x.lead_id
WHERE x.is_new = 0 AND b.lead_id = x.lead_id AND b.kind = x.kind
  AND CASE WHEN x.breached = 1
           THEN (b.owner_id, b.due_at, b.escalate_at, b.resolved_at, b.resolution)
                IS DISTINCT FROM (x.owner_id, x.due_at, x.escalate_at, x.resolved_at, x.resolution)
           ELSE b.resolution IS DISTINCT FROM 'corrected' END
