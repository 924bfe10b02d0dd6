-- A night used to rewrite every engagement contribution of every engaged lead, because fading changes
-- them all (1.48M rows for 40k new events at 200k leads). The engine already keeps, per lead and
-- engagement rule, the uncapped value at a reference time (scoring.rule_state); fading is a product, so
-- the points a rule adds at any later time are that value times 2^(-elapsed/half-life), capped and
-- rounded. scoring.contributions is now computed from it at read time, at the time of the lead's score
-- (scoring.lead_scores.as_of); only fit contributions are stored, and only rewritten when they change.

CREATE TABLE scoring.profiles (
    config_hash      text             NOT NULL,
    profile_id       text             NOT NULL,
    half_life_days   double precision,
    floor            numeric(12, 2),
    PRIMARY KEY (config_hash, profile_id)
);
COMMENT ON TABLE scoring.profiles IS 'The engagement settings of each model''s profiles that reading scoring.contributions needs.';
COMMENT ON COLUMN scoring.profiles.config_hash IS 'Model (scoring.models.config_hash).';
COMMENT ON COLUMN scoring.profiles.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.profiles.half_life_days IS 'Engagement half-life in days; empty: points never fade.';
COMMENT ON COLUMN scoring.profiles.floor IS 'Lowest engagement total (scoring.engagement.floor); empty: none.';

INSERT INTO scoring.profiles (config_hash, profile_id, half_life_days, floor)
SELECT m.config_hash, p ->> 'profile_id', (p -> 'engagement' ->> 'half_life_days')::float8,
       (p -> 'engagement' ->> 'floor')::numeric
FROM scoring.models m CROSS JOIN LATERAL jsonb_array_elements(m.definition -> 'profiles') p;

-- The one fading formula: the night reads the state through it (smarketing.scoring.warehouse.read_state)
-- and the view below shows it, so the points shown and the total the night computed from them are the
-- same floating-point numbers, not two implementations of the same formula.
-- Both functions are single expressions over immutable operators, so PostgreSQL inlines them into the
-- view (a function call per row would cost more than the arithmetic).
CREATE FUNCTION scoring.faded(value float8, since timestamptz, at timestamptz, half_life_days float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN half_life_days IS NULL THEN value
                ELSE value * power(2::float8, -(extract(epoch FROM at - since) * 1000000)::float8
                                              / (half_life_days * 86400000000::float8))
           END
$$;
COMMENT ON FUNCTION scoring.faded(float8, timestamptz, timestamptz, float8) IS 'A rule value computed to `since`, faded to `at`: value * 2^(-elapsed / half-life).';

-- Capped and rounded as the engine does (smarketing.scoring.kernel.capped_values): the cap bounds the
-- faded sum (-cap bounds it below for negative points; least and greatest ignore the other, empty,
-- bound), and cents are rounded half to even like numpy (rint(x * 100) / 100: PostgreSQL rounds float8
-- with rint). What is left of cancelled additions (|x| < 1e-9) rounds to zero either way.
CREATE FUNCTION scoring.capped_points(value float8, points numeric, cap numeric)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(least(greatest(value, CASE WHEN points < 0 THEN -cap::float8 END),
                       CASE WHEN points >= 0 THEN cap::float8 END) * 100::float8) / 100::float8
$$;
COMMENT ON FUNCTION scoring.capped_points(float8, numeric, numeric) IS 'An engagement rule''s faded value, capped (for negative points: bounded at -cap) and rounded to cents like the engine.';

ALTER TABLE scoring.contributions RENAME TO fit_contributions;
ALTER INDEX scoring.contributions_lead_idx RENAME TO fit_contributions_lead_idx;
DELETE FROM scoring.fit_contributions WHERE kind <> 'fit';
ALTER TABLE scoring.fit_contributions DROP COLUMN kind;
COMMENT ON TABLE scoring.fit_contributions IS 'Fit points per lead, profile and matching fit rule (the fit rows of scoring.contributions); rewritten for a lead only when they change.';
COMMENT ON COLUMN scoring.fit_contributions.rule_id IS 'Fit rule id (scoring.rules).';
COMMENT ON COLUMN scoring.fit_contributions.points IS 'Points the rule adds.';

CREATE VIEW scoring.engagement_points AS
SELECT st.lead_id, r.profile_id, r.rule_id,
       scoring.capped_points(scoring.faded(st.value, st.as_of, s.as_of, p.half_life_days), r.points, r.cap)
           AS points
FROM scoring.lead_scores s
JOIN scoring.rule_state st ON st.lead_id = s.lead_id
JOIN scoring.rules r ON r.config_hash = s.config_hash AND r.kind = 'engagement' AND r.rule_no = st.rule_no
JOIN scoring.profiles p ON p.config_hash = s.config_hash AND p.profile_id = r.profile_id;
COMMENT ON VIEW scoring.engagement_points IS 'Each lead''s engagement points per profile and rule at the time of its score: the rule state faded, capped and rounded (zeros included).';
COMMENT ON COLUMN scoring.engagement_points.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.engagement_points.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.engagement_points.rule_id IS 'Engagement rule id (scoring.rules).';
COMMENT ON COLUMN scoring.engagement_points.points IS 'Points the rule adds at scoring.lead_scores.as_of: faded and capped, in cents.';

CREATE VIEW scoring.contributions AS
SELECT lead_id, profile_id, 'fit'::text AS kind, rule_id, points
FROM scoring.fit_contributions
UNION ALL
SELECT lead_id, profile_id, 'engagement'::text, rule_id, points::numeric(12, 2)
FROM scoring.engagement_points
WHERE points <> 0
UNION ALL
-- The floor lifts a profile's engagement total back up to it: the lift is a row of its own.
SELECT s.lead_id, p.profile_id, 'floor'::text, 'floor'::text, (p.floor - COALESCE(e.summed, 0))::numeric(12, 2)
FROM scoring.lead_scores s
JOIN scoring.profiles p ON p.config_hash = s.config_hash AND p.floor IS NOT NULL
LEFT JOIN (
    SELECT lead_id, profile_id, sum(points::numeric(12, 2)) AS summed
    FROM scoring.engagement_points GROUP BY lead_id, profile_id
) e ON e.lead_id = s.lead_id AND e.profile_id = p.profile_id
WHERE COALESCE(e.summed, 0) < p.floor;
COMMENT ON VIEW scoring.contributions IS 'Why a lead has its score: exactly one row per lead, profile, kind and rule that added (or removed) points, at the time of its score. They add up to scoring.lead_scores.total. Fit rows are stored (scoring.fit_contributions), engagement and floor rows computed from the engine state (scoring.rule_state) when read.';
COMMENT ON COLUMN scoring.contributions.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.contributions.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.contributions.kind IS 'fit, engagement, or floor (what the engagement floor added back).';
COMMENT ON COLUMN scoring.contributions.rule_id IS 'Rule id (scoring.rules): a fit rule id or an event type.';
COMMENT ON COLUMN scoring.contributions.points IS 'Points the rule adds now (engagement: faded and capped).';
