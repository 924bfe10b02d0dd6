-- New breaches: the breached promises of new clocks, and of rewritten stored clocks (_sla_changed) that had
-- none. <conflict>: empty when no breach can exist yet for these clocks (a plain insert: a first
-- evaluation records tens of thousands), else ON CONFLICT DO NOTHING so an existing row (and its
-- announcement) stays.
INSERT INTO sla.breaches (lead_id, kind, owner_id, due_at, detected_at, escalate_at, resolved_at, resolution)
SELECT x.lead_id, x.kind, x.owner_id, x.due_at, x.evaluated_at, x.escalate_at, x.resolved_at, x.resolution
FROM _sla_found x
WHERE x.breached = 1
  AND (x.is_new = 1 OR EXISTS (SELECT FROM _sla_changed c WHERE c.lead_id = x.lead_id))
{conflict}
