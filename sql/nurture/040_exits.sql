-- Exits decided at %(as_of)s for every running enrollment (of the leads in nurture_scope, when
-- scoped): deleted and withdrawn consent always end it, the scenario's exit_when the rest, and so
-- does the scenario leaving the agreement. Held-out rows leave at once (nothing to remove); a planned
-- row never sent is skipped; anything that may be in the tool becomes `exiting` and the exits task
-- removes it. Returns the exits per scenario, arm, state and reason.
WITH running AS (
    SELECT e.enrollment_id, e.lead_id, e.state, e.attempts, e.planned_at, sc.scenario_id AS known,
           sc.below_mql, COALESCE(sc.exit_when, '{}'::text[]) AS exit_when,
           n.lead_id AS live, n.blocked_by, n.is_mql, n.lifecycle_stage
    FROM nurture.enrollments e
    LEFT JOIN nurture_scenarios sc ON sc.scenario_id = e.scenario_id
    LEFT JOIN nurture_leads n ON n.lead_id = e.lead_id
    WHERE e.state IN ('planned', 'pushed', 'confirmed', 'held_out')
      AND e.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
),
decided AS (
    SELECT r.*,
           CASE
               WHEN r.live IS NULL OR r.blocked_by = 'deleted' THEN 'deleted'
               WHEN r.blocked_by = 'no_consent' THEN 'no_consent'
               WHEN r.known IS NULL THEN 'scenario_removed'
               WHEN r.blocked_by IN ('unsubscribed', 'bounced', 'customer') AND r.blocked_by = ANY (r.exit_when)
                   THEN r.blocked_by
               WHEN 'sql' = ANY (r.exit_when)
                    AND (r.lifecycle_stage = ANY (%(sql_stages)s::text[])
                         OR EXISTS (SELECT 1 FROM core.lifecycle_history h
                                    WHERE h.lead_id = r.lead_id AND h.stage = ANY (%(sql_stages)s::text[])
                                      AND h.entered_at > r.planned_at AND h.entered_at <= %(as_of)s))
                   THEN 'sql'
               WHEN 'mql' = ANY (r.exit_when)
                    AND ((r.below_mql AND r.is_mql)
                         OR EXISTS (SELECT 1 FROM scoring.mql_crossings x
                                    WHERE x.lead_id = r.lead_id AND x.crossed_at > r.planned_at
                                      AND x.crossed_at <= %(as_of)s))
                   THEN 'mql'
           END AS reason
    FROM running r
),
changed AS (
UPDATE nurture.enrollments e
SET state = CASE WHEN d.state = 'held_out' THEN 'exited'
                 WHEN d.state = 'planned' AND d.attempts = 0 THEN 'skipped'
                 ELSE 'exiting' END,
    exit_reason = CASE WHEN d.state = 'planned' AND d.attempts = 0 THEN NULL ELSE d.reason END,
    skip_reason = CASE WHEN d.state = 'planned' AND d.attempts = 0 THEN d.reason END,
    exit_planned_at = %(as_of)s,
    exited_at = CASE WHEN d.state = 'held_out' THEN %(as_of)s::timestamptz END,
    updated_at = now()
FROM decided d
WHERE e.enrollment_id = d.enrollment_id AND d.reason IS NOT NULL
RETURNING e.scenario_id, e.arm, e.state, COALESCE(e.exit_reason, e.skip_reason) AS reason
)
SELECT scenario_id, arm, state, reason, count(*) AS exits
FROM changed
GROUP BY scenario_id, arm, state, reason
