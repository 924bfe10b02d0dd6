-- nurture.lead_state for the leads this plan planned (every lead on a full plan, whose rows were
-- emptied first; the leads of nurture_scope otherwise, whose rows were deleted first): the leads that
-- are MQL (the next plan finds flips by comparing MQL sets) and the moment time alone may change a
-- lead's plan — the end of a cooldown (or of a skipped entry's day of waiting) in a scenario it matches,
-- or the next plan when it could enter a scenario and did not: a daily cap left it waiting, or its entry
-- was skipped (the tool does not know it) while another scenario it matches is free. Other leads get no
-- row: most leads are neither, and a row per lead cost a full plan as much as a tenth of its time.
-- Nothing else changes a lead's plan without a logged change (005_scope.sql).
WITH wakes AS (
    SELECT m.lead_id, m.cooldown_ends AS wake_at
    FROM nurture_matches m
    WHERE m.blocked_by = 'cooldown'
    UNION ALL
    SELECT x.lead_id, %(as_of)s::timestamptz + make_interval(days => greatest(sc.cooldown_days, 1))
    FROM nurture_entered x JOIN nurture_scenarios sc ON sc.scenario_id = x.scenario_id
    WHERE x.state = 'skipped'
    UNION ALL
    -- free in a scenario it did not enter: the next plan offers it again. An entry inserted as skipped
    -- is logged nowhere (the triggers see enrollments end, not begin), yet a full plan would offer the
    -- lead its next free scenario at the very next plan.
    SELECT m.lead_id, %(as_of)s::timestamptz
    FROM nurture_matches m
    WHERE m.blocked_by IS NULL
      AND NOT EXISTS (SELECT 1 FROM nurture_entered x
                      WHERE x.lead_id = m.lead_id AND (x.state <> 'skipped' OR x.scenario_id = m.scenario_id))
),
first_wake AS (
    SELECT lead_id, min(wake_at) AS wake_at FROM wakes GROUP BY lead_id
)
INSERT INTO nurture.lead_state (lead_id, is_mql, wake_at)
SELECT n.lead_id, n.is_mql, w.wake_at
FROM nurture_leads n
LEFT JOIN first_wake w ON w.lead_id = n.lead_id
WHERE n.is_mql OR w.wake_at IS NOT NULL
ORDER BY n.lead_id
