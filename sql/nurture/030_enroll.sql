-- New entries of this run: of the scenarios a lead may enter, the best-ranked one (the traffic
-- controller); per scenario at most daily_cap entries a day (counted in the organisation's time
-- zone, reruns included), best scores first; the holdout share kept out by a hash of lead id and
-- scenario; the lead's contact id in the target tool (a live, not merged-away source record), or
-- skipped when the tool does not know the lead. Returns the entries per scenario, arm and state, and
-- notes each entrant in nurture_entered.
WITH candidates AS (
    SELECT DISTINCT ON (m.lead_id) m.*
    FROM nurture_matches m
    WHERE m.blocked_by IS NULL
    ORDER BY m.lead_id, m.rank
),
entered_today AS (
    SELECT e.scenario_id, count(*) AS entries
    FROM nurture.enrollments e
    WHERE e.state <> 'skipped'
      AND (e.planned_at AT TIME ZONE %(timezone)s)::date = (%(as_of)s::timestamptz AT TIME ZONE %(timezone)s)::date
    GROUP BY e.scenario_id
),
-- the interests a matched mask stands for, spelled once per distinct mask rather than once per entrant
mask_names AS (
    SELECT masks.mask, array_to_string(ARRAY(
               SELECT i FROM unnest(%(interests)s::text[]) WITH ORDINALITY AS u (i, k)
               WHERE masks.mask & (1::bigint << (k::int - 1)) <> 0 ORDER BY i), ', ') AS interests
    FROM (SELECT DISTINCT c.interest_mask & sc.interest_mask AS mask
          FROM candidates c JOIN nurture_scenarios sc USING (scenario_id)
          WHERE sc.interest_mask IS NOT NULL) masks
),
-- places (best scores first) only where a daily cap counts them: other scenarios need no ordering
ranked AS (
    SELECT c.*, NULL::bigint AS place
    FROM candidates c JOIN nurture_scenarios sc ON sc.scenario_id = c.scenario_id
    WHERE sc.daily_cap IS NULL
    UNION ALL
    SELECT c.*, row_number() OVER (PARTITION BY c.scenario_id ORDER BY c.score DESC NULLS LAST, c.lead_id)
    FROM candidates c JOIN nurture_scenarios sc ON sc.scenario_id = c.scenario_id
    WHERE sc.daily_cap IS NOT NULL
),
chosen AS (
    SELECT r.lead_id, r.scenario_id, r.cycle, r.score, sc.target_system, sc.target_kind, sc.target_id,
           sc.source_system,
           concat_ws('; ',
               CASE WHEN sc.below_mql THEN 'below MQL (score ' || COALESCE(round(r.score)::text, 'none') || ')' END,
               CASE WHEN sc.interest_mask IS NOT NULL THEN 'interests ' || names.interests END,
               CASE WHEN sc.personas IS NOT NULL THEN 'persona ' || r.persona_id END,
               CASE WHEN sc.stages IS NOT NULL
                    THEN 'stage ' || CASE WHEN r.recycled AND r.lifecycle_stage IS DISTINCT FROM %(recycle_stage)s
                                          THEN %(recycle_stage)s || ' (recycled by sales)' ELSE r.lifecycle_stage END END,
               CASE WHEN sc.min_quiet_days IS NOT NULL THEN 'no sales touch for ' || sc.min_quiet_days || '+ days' END
           ) AS matched,
           -- 52 bits of md5: the same lead and scenario always fall on the same side (Python: holdout_point)
           ('x' || substr(md5(r.lead_id::text || ':' || r.scenario_id), 1, 13))::bit(52)::bigint::float8
               / 4503599627370496.0 < sc.holdout_share AS held_out
    FROM ranked r
    JOIN nurture_scenarios sc ON sc.scenario_id = r.scenario_id
    LEFT JOIN mask_names names ON names.mask = r.interest_mask & sc.interest_mask
    LEFT JOIN entered_today t ON t.scenario_id = r.scenario_id
    WHERE sc.daily_cap IS NULL OR r.place <= sc.daily_cap - COALESCE(t.entries, 0)
),
refs AS (
    -- the entrants' contact ids in their target's tool: the latest live record not merged away
    SELECT DISTINCT ON (ls.lead_id, ls.source_system) ls.lead_id, ls.source_system, ls.source_id
    FROM chosen c
    JOIN core.lead_sources ls ON ls.lead_id = c.lead_id AND ls.source_system = c.source_system
    WHERE ls.archived_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM core.lead_merges lm
                      WHERE lm.source_system = ls.source_system AND lm.source_id = ls.source_id)
    ORDER BY ls.lead_id, ls.source_system, ls.source_updated_at DESC NULLS LAST, ls.source_id
),
inserted AS (
INSERT INTO nurture.enrollments AS e
    (lead_id, scenario_id, cycle, arm, state, target_system, target_kind, target_id, source_system,
     external_ref, matched, score, run_id, planned_at, skip_reason)
SELECT c.lead_id, c.scenario_id, c.cycle,
       CASE WHEN c.held_out THEN 'held_out' ELSE 'enrolled' END,
       CASE WHEN ref.source_id IS NULL THEN 'skipped' WHEN c.held_out THEN 'held_out' ELSE 'planned' END,
       c.target_system, c.target_kind, c.target_id, c.source_system, ref.source_id, c.matched, c.score,
       %(run_id)s, %(as_of)s,
       CASE WHEN ref.source_id IS NULL THEN 'not_in_target' END
FROM chosen c
LEFT JOIN refs ref ON ref.lead_id = c.lead_id AND ref.source_system = c.source_system
RETURNING e.lead_id, e.scenario_id, e.arm, e.state
),
noted AS (
    -- who entered (for nurture.lead_state: the rest of the free candidates wait for a daily cap)
    INSERT INTO nurture_entered (lead_id, scenario_id, state)
    SELECT lead_id, scenario_id, state FROM inserted
)
SELECT scenario_id, arm, state, count(*) AS entries
FROM inserted
GROUP BY scenario_id, arm, state
