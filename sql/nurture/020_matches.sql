-- nurture_matches: every (lead, scenario) whose conditions the lead meets at %(as_of)s, with the
-- conditions it met (matched) and the first rule that keeps it out (blocked_by; empty = may enter):
-- an eligibility rule, the scenario's consent rule, an enrollment already running, or the cooldown.
CREATE TEMP TABLE nurture_matches ON COMMIT DROP AS
WITH history AS (
    SELECT e.lead_id, e.scenario_id, max(e.cycle) AS last_cycle,
           -- a lead that was never sent (skipped) waits at least a day, or it would be re-planned every run
           max(CASE WHEN e.state = 'exited' THEN e.exited_at END) AS last_exit_at,
           max(CASE WHEN e.state = 'skipped' THEN e.planned_at END) AS last_skip_at
    FROM nurture.enrollments e
    GROUP BY e.lead_id, e.scenario_id
),
active AS (
    SELECT e.lead_id, e.scenario_id
    FROM nurture.enrollments e
    WHERE e.state IN ('planned', 'pushed', 'confirmed', 'exiting', 'held_out')
)
SELECT n.lead_id,
       sc.scenario_id,
       sc.rank,
       n.score,
       COALESCE(h.last_cycle, 0) + 1 AS cycle,
       concat_ws('; ',
           CASE WHEN sc.below_mql THEN 'below MQL (score ' || COALESCE(round(n.score)::text, 'none') || ')' END,
           CASE WHEN sc.interests IS NOT NULL
                THEN 'interests ' || array_to_string(ARRAY(SELECT unnest(n.interests) INTERSECT SELECT unnest(sc.interests) ORDER BY 1), ', ') END,
           CASE WHEN sc.personas IS NOT NULL THEN 'persona ' || n.persona_id END,
           CASE WHEN sc.stages IS NOT NULL
                THEN 'stage ' || CASE WHEN n.recycled AND n.lifecycle_stage IS DISTINCT FROM %(recycle_stage)s
                                      THEN %(recycle_stage)s || ' (recycled by sales)' ELSE n.lifecycle_stage END END,
           CASE WHEN sc.min_quiet_days IS NOT NULL
                THEN 'no sales touch for ' || sc.min_quiet_days || '+ days' END
       ) AS matched,
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
 AND (sc.interests IS NULL OR n.interests && sc.interests)
 AND (sc.personas IS NULL OR n.persona_id = ANY (sc.personas))
 AND (sc.stages IS NULL OR n.lifecycle_stage = ANY (sc.stages)
      OR (n.recycled AND %(recycle_stage)s = ANY (sc.stages)))
 AND (sc.min_quiet_days IS NULL OR n.last_touch_at IS NULL
      OR n.last_touch_at <= %(as_of)s::timestamptz - make_interval(days => sc.min_quiet_days))
LEFT JOIN active a ON a.lead_id = n.lead_id
LEFT JOIN history h ON h.lead_id = n.lead_id AND h.scenario_id = sc.scenario_id
