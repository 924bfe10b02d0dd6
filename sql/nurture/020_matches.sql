-- nurture_matches: every (lead, scenario) whose conditions the lead meets at %(as_of)s, with the first
-- rule that keeps it out (blocked_by; empty = may enter): an eligibility rule, the scenario's consent
-- rule, an enrollment already running, or the cooldown. (Which conditions matched is spelled out for
-- the entries only, in 030_enroll.sql: most matches never enter.)
CREATE TEMP TABLE nurture_matches ON COMMIT DROP AS
WITH history AS (
    SELECT e.lead_id, e.scenario_id, max(e.cycle) AS last_cycle,
           -- a lead that was never sent (skipped) waits at least a day, or it would be re-planned every run
           max(CASE WHEN e.state = 'exited' THEN e.exited_at END) AS last_exit_at,
           max(CASE WHEN e.state = 'skipped' THEN e.planned_at END) AS last_skip_at
    FROM nurture.enrollments e
    WHERE e.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
    GROUP BY e.lead_id, e.scenario_id
),
active AS (
    SELECT e.lead_id, e.scenario_id
    FROM nurture.enrollments e
    WHERE e.state IN ('planned', 'pushed', 'confirmed', 'exiting', 'held_out')
      AND e.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
)
SELECT n.lead_id,
       sc.scenario_id,
       sc.rank,
       n.score,
       n.persona_id,
       n.lifecycle_stage,
       n.recycled,
       n.interest_mask,
       COALESCE(h.last_cycle, 0) + 1 AS cycle,
       -- when the cooldown (or a skipped entry's day of waiting) ends: an incremental plan wakes the lead then
       greatest(h.last_exit_at + make_interval(days => sc.cooldown_days),
                h.last_skip_at + make_interval(days => greatest(sc.cooldown_days, 1))) AS cooldown_ends,
       COALESCE(
           n.blocked_by,
           CASE WHEN sc.requires_consent AND n.consent_email IS NOT TRUE THEN 'no_consent' END,
           CASE WHEN a.lead_id IS NOT NULL THEN 'in_scenario:' || a.scenario_id END,
           CASE WHEN h.last_exit_at > %(as_of)s::timestamptz - make_interval(days => sc.cooldown_days)
                  OR h.last_skip_at > %(as_of)s::timestamptz - make_interval(days => greatest(sc.cooldown_days, 1))
                THEN 'cooldown' END
       ) AS blocked_by
FROM nurture_leads n
JOIN nurture_scenarios sc
  ON (NOT sc.below_mql OR NOT n.is_mql)
 AND (sc.interest_mask IS NULL OR n.interest_mask & sc.interest_mask <> 0)
 AND (sc.personas IS NULL OR n.persona_id = ANY (sc.personas))
 AND (sc.stages IS NULL OR n.lifecycle_stage = ANY (sc.stages)
      OR (n.recycled AND %(recycle_stage)s = ANY (sc.stages)))
 AND (sc.min_quiet_days IS NULL OR n.last_touch_at IS NULL
      OR n.last_touch_at <= %(as_of)s::timestamptz - make_interval(days => sc.min_quiet_days))
LEFT JOIN active a ON a.lead_id = n.lead_id
LEFT JOIN history h ON h.lead_id = n.lead_id AND h.scenario_id = sc.scenario_id
