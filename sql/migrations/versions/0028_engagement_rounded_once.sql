-- The engagement of a lead is now max(floor, round(sum of its rules' capped values, 2)): one rounding of
-- the sum, half to even (it was the sum of each capped value rounded to cents, which a closed form of the
-- score, max(floor, C + A x fading), cannot reproduce: off by a cent for 35% of the leads). Each rule's
-- row in scoring.contributions shows its capped value in cents, apportioned by largest remainder so the
-- rows still add up exactly to the engagement: every value rounded down to a cent, then one more cent to
-- the values with the largest remainders (the earlier rule first among equal ones) until the cents of
-- the rounded sum are reached. The arithmetic is the engine's (smarketing.scoring.kernel.summed_cents and
-- apportioned), in float8 in the same order, so the view and the stored totals agree to the cent.
--
-- Scores stored before this migration follow the old definition (up to a few cents apart): the first
-- scoring run after it is a full rescore (smarketing.scoring.runner.plan_run: the last finished run's
-- summary lacks `engagement_rounded_once`), which rewrites every lead's score under the new one. Until
-- that run, a lead's contributions may differ from its stored total by those cents.

DROP VIEW scoring.contributions;
DROP VIEW scoring.engagement_points;
DROP FUNCTION scoring.capped_points(float8, numeric, numeric);

-- Capped as the engine does (smarketing.scoring.kernel.capped_values), not rounded: the cap bounds the
-- faded sum (-cap bounds it below for negative points; least and greatest ignore the other, empty,
-- bound). A single expression over immutable operators, so PostgreSQL inlines it into the view.
CREATE FUNCTION scoring.capped_value(value float8, points numeric, cap numeric)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(greatest(value, CASE WHEN points < 0 THEN -cap::float8 END),
                 CASE WHEN points >= 0 THEN cap::float8 END)
$$;
COMMENT ON FUNCTION scoring.capped_value(float8, numeric, numeric) IS 'An engagement rule''s faded value, capped (for negative points: bounded at -cap) like the engine; not rounded.';

-- One row per lead, profile and engagement rule with state, plus one floor row per lead and profile (a
-- pseudo-rule last in rule order, value 0: it adds nothing to the sum and never takes a cent): the window
-- that adds and apportions a profile's rules also gives its floor row, in one pass over the state (a
-- second pass for the floor rows, as before, cost more than the arithmetic).
CREATE VIEW scoring.engagement_points AS
SELECT lead_id, profile_id, kind, rule_id,
       CASE WHEN kind = 'engagement' THEN ((low + (place <= cents - low_sum)::int)::int8 * 0.01)::numeric(12, 2)
            WHEN cents < floor * 100 THEN (floor - cents::int8 * 0.01)::numeric(12, 2)
            ELSE 0 END AS points
FROM (
    SELECT lead_id, profile_id, kind, rule_id, floor, c.low,
           -- The sum in rule order (float8 addition is not associative), rounded once: rint, half to even.
           round(sum(x) OVER rules * 100) AS cents,
           sum(c.low) OVER rules AS low_sum,
           row_number() OVER (PARTITION BY lead_id, profile_id ORDER BY c.remainder DESC, rule_no) AS place
    FROM (
        SELECT st.lead_id, r.profile_id, 'engagement'::text AS kind, r.rule_id, r.rule_no, p.floor, v.x
        FROM scoring.lead_scores s
        JOIN scoring.rule_state st ON st.lead_id = s.lead_id
        JOIN scoring.rules r ON r.config_hash = s.config_hash AND r.kind = 'engagement' AND r.rule_no = st.rule_no
        JOIN scoring.profiles p ON p.config_hash = s.config_hash AND p.profile_id = r.profile_id
        -- OFFSET 0: the faded value is computed once per row, not once per use (PostgreSQL would inline it).
        CROSS JOIN LATERAL (
            -- What is left of cancelled additions is zero (kernel.ZERO).
            SELECT CASE WHEN abs(v) < 1e-9 THEN 0::float8 ELSE v END AS x
            FROM (SELECT scoring.capped_value(scoring.faded(st.value, st.as_of, s.as_of, p.half_life_days),
                                              r.points, r.cap) AS v
                  OFFSET 0) faded
        ) v
        UNION ALL
        SELECT s.lead_id, p.profile_id, 'floor', 'floor', 32767, p.floor, 0
        FROM scoring.lead_scores s
        JOIN scoring.profiles p ON p.config_hash = s.config_hash AND p.floor IS NOT NULL
    ) capped
    CROSS JOIN LATERAL (SELECT floor(x * 100) AS low, x * 100 - floor(x * 100) AS remainder OFFSET 0) c
    WINDOW rules AS (PARTITION BY lead_id, profile_id ORDER BY rule_no
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
) ranked;
COMMENT ON VIEW scoring.engagement_points IS 'Each lead''s engagement points per profile and rule at the time of its score (zeros included): the rule state faded and capped, shown in cents apportioned by largest remainder so that a profile''s rows add up to its engagement sum rounded once; and per profile with a floor, what the floor lifts that sum by (kind floor, 0 when it does not bind).';
COMMENT ON COLUMN scoring.engagement_points.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.engagement_points.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.engagement_points.kind IS 'engagement, or floor (what the engagement floor added back).';
COMMENT ON COLUMN scoring.engagement_points.rule_id IS 'Engagement rule id (scoring.rules), or floor.';
COMMENT ON COLUMN scoring.engagement_points.points IS 'Points the rule shows at scoring.lead_scores.as_of: its faded, capped value in apportioned cents.';

CREATE VIEW scoring.contributions AS
SELECT lead_id, profile_id, 'fit'::text AS kind, rule_id, points
FROM scoring.fit_contributions
UNION ALL
SELECT lead_id, profile_id, kind, rule_id, points
FROM scoring.engagement_points
WHERE points <> 0;
COMMENT ON VIEW scoring.contributions IS 'Why a lead has its score: exactly one row per lead, profile, kind and rule that added (or removed) points, at the time of its score. They add up to scoring.lead_scores.total exactly: engagement rows show each rule''s capped value in cents apportioned so that they add up to the engagement sum rounded once. Fit rows are stored (scoring.fit_contributions), engagement and floor rows computed from the engine state (scoring.rule_state) when read.';
COMMENT ON COLUMN scoring.contributions.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.contributions.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.contributions.kind IS 'fit, engagement, or floor (what the engagement floor added back).';
COMMENT ON COLUMN scoring.contributions.rule_id IS 'Rule id (scoring.rules): a fit rule id or an event type.';
COMMENT ON COLUMN scoring.contributions.points IS 'Points the rule adds now (engagement: faded and capped, in apportioned cents).';

-- The planner needs these small tables' statistics: without them it expected one engagement rule of
-- twelve and read the state by 2.4M index lookups (lead x rule) instead of one hash join, 2-3x the CPU of
-- a full read. The runner analyses them when it registers a model (runner.register_model).
ANALYZE scoring.rules;
ANALYZE scoring.profiles;
