-- Fading moves every engaged lead's score every night, so a lead_scores row per lead was rewritten per
-- night: 200k of a night's 263k rows at 200k leads. What is stored now is what a score is computed
-- from, which changes only when the lead's inputs do: its fit points per profile and its model
-- (scoring.lead_score_inputs), the engine state (scoring.rule_state) and the time each lead-id range
-- was last scored to (scoring.scored_ranges, one row per shard: written in the shard's transaction, so
-- a reader sees each lead at the time of the state it reads). scoring.lead_scores and
-- scoring.profile_scores become views computing the rest when read, through the functions
-- scoring.contributions uses, so a lead's total is the sum of its contributions to the cent and the
-- number the night computed in memory.

-- ---------------------------------------------------------------------------------------------
-- Thresholds, from the stored model definition
-- ---------------------------------------------------------------------------------------------
-- Grades and engagement bands are (label, minimum) pairs; the engine gives a value the first pair in the
-- agreement's order whose minimum it reaches (kernel.grades_for, bands_for). As steps over ascending
-- minimums, that is one width_bucket per row: label[k] holds for values from minimum[k] to minimum[k+1].
CREATE FUNCTION scoring.step_minimums(pairs jsonb) RETURNS float8[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(DISTINCT (p ->> 1)::float8 ORDER BY (p ->> 1)::float8), '{}')
    FROM jsonb_array_elements(COALESCE(pairs, '[]'::jsonb)) p
$$;
COMMENT ON FUNCTION scoring.step_minimums(jsonb) IS 'The distinct minimums of (label, minimum) pairs, ascending: the steps of scoring.step_labels.';

CREATE FUNCTION scoring.step_labels(pairs jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(
               (SELECT q ->> 0 FROM jsonb_array_elements(pairs) WITH ORDINALITY x(q, i)
                WHERE (q ->> 1)::float8 <= m ORDER BY i LIMIT 1) ORDER BY m), '{}')
    FROM unnest(scoring.step_minimums(pairs)) m
$$;
COMMENT ON FUNCTION scoring.step_labels(jsonb) IS 'For each step of scoring.step_minimums, the label a value from that minimum on gets: the first pair in order whose minimum it reaches.';

ALTER TABLE scoring.models
    ADD COLUMN grade_minimums float8[] GENERATED ALWAYS AS (scoring.step_minimums(definition -> 'grades')) STORED,
    ADD COLUMN grade_labels text[] GENERATED ALWAYS AS (scoring.step_labels(definition -> 'grades')) STORED,
    ADD COLUMN band_minimums float8[]
        GENERATED ALWAYS AS (scoring.step_minimums(definition -> 'engagement_bands')) STORED,
    ADD COLUMN band_labels text[] GENERATED ALWAYS AS (scoring.step_labels(definition -> 'engagement_bands')) STORED,
    ADD COLUMN mql_min_score float8 GENERATED ALWAYS AS ((definition ->> 'mql_min_score')::float8) STORED,
    ADD COLUMN mql_min_grade text GENERATED ALWAYS AS (definition ->> 'mql_min_grade') STORED;
COMMENT ON COLUMN scoring.models.grade_minimums IS 'Fit points from which each grade of grade_labels holds, ascending (from definition.grades).';
COMMENT ON COLUMN scoring.models.grade_labels IS 'The grade from each of grade_minimums on.';
COMMENT ON COLUMN scoring.models.band_minimums IS 'Engagement points from which each band of band_labels holds, ascending (from definition.engagement_bands).';
COMMENT ON COLUMN scoring.models.band_labels IS 'The engagement band from each of band_minimums on.';
COMMENT ON COLUMN scoring.models.mql_min_score IS 'vocabulary.mql.min_score: the total a lead needs to be an MQL; empty: no lead is.';
COMMENT ON COLUMN scoring.models.mql_min_grade IS 'vocabulary.mql.min_grade: the lowest grade an MQL may have; empty: any.';

ALTER TABLE scoring.profiles ADD COLUMN profile_no smallint;
UPDATE scoring.profiles p SET profile_no = d.i
FROM scoring.models m
CROSS JOIN LATERAL jsonb_array_elements(m.definition -> 'profiles') WITH ORDINALITY d(profile, i)
WHERE m.config_hash = p.config_hash AND d.profile ->> 'profile_id' = p.profile_id;
COMMENT ON COLUMN scoring.profiles.profile_no IS 'Position of the profile in the model, from 1 ("default"): its place in scoring.lead_score_inputs.fits, and the earlier wins a tie for a lead''s headline score.';

-- ---------------------------------------------------------------------------------------------
-- What is stored
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.lead_score_inputs (
    lead_id          bigint      PRIMARY KEY,
    fits             integer[]   NOT NULL,
    model_version    text        NOT NULL,
    config_hash      text        NOT NULL
);
COMMENT ON TABLE scoring.lead_score_inputs IS 'Every scored lead (one row each) with what its score is computed from besides the engine state: rewritten only when that changes (a new lead, an edited field, a new model). Scores: scoring.lead_scores.';
COMMENT ON COLUMN scoring.lead_score_inputs.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.lead_score_inputs.fits IS 'Fit points per profile, by scoring.profiles.profile_no.';
COMMENT ON COLUMN scoring.lead_score_inputs.model_version IS 'scoring.version of the model that scored it.';
COMMENT ON COLUMN scoring.lead_score_inputs.config_hash IS 'Hash of that model (scoring.models).';

CREATE TABLE scoring.scored_ranges (
    low              bigint      NOT NULL,
    high             bigint      NOT NULL,
    as_of            timestamptz NOT NULL,
    run_id           text        NOT NULL,
    scored_at        timestamptz NOT NULL,
    PRIMARY KEY (low),
    CHECK (low <= high)
);
COMMENT ON TABLE scoring.scored_ranges IS 'The time each lead-id range was last scored to (one row per shard of the runs that scored it; the ranges never overlap). The scores of its leads are computed to it when read.';
COMMENT ON COLUMN scoring.scored_ranges.low IS 'Lowest lead id of the range.';
COMMENT ON COLUMN scoring.scored_ranges.high IS 'Highest lead id of the range.';
COMMENT ON COLUMN scoring.scored_ranges.as_of IS 'Reference time the range''s scores are computed to: events after it are not counted yet.';
COMMENT ON COLUMN scoring.scored_ranges.run_id IS 'Scoring run that scored the range (scoring.runs).';
COMMENT ON COLUMN scoring.scored_ranges.scored_at IS 'When that run''s shard committed.';

-- An existing warehouse: its stored scores become inputs (fit points per profile from the stored fit
-- rows, which add up to them), and each run of consecutive leads scored as of the same time by the same
-- run becomes a range.
INSERT INTO scoring.lead_score_inputs (lead_id, fits, model_version, config_hash)
SELECT s.lead_id,
       ARRAY(SELECT COALESCE((SELECT sum(f.points) FROM scoring.fit_contributions f
                              WHERE f.lead_id = s.lead_id AND f.profile_id = p.profile_id), 0)::integer
             FROM scoring.profiles p WHERE p.config_hash = s.config_hash ORDER BY p.profile_no),
       s.model_version, s.config_hash
FROM scoring.lead_scores s;

INSERT INTO scoring.scored_ranges (low, high, as_of, run_id, scored_at)
SELECT CASE WHEN row_number() OVER w = 1 THEN -9223372036854775808 ELSE first_id END,
       COALESCE(lead(first_id) OVER w - 1, 9223372036854775807), as_of, run_id, scored_at
FROM (
    SELECT min(lead_id) AS first_id, as_of, run_id, max(scored_at) AS scored_at
    FROM (
        SELECT lead_id, as_of, run_id, scored_at,
               row_number() OVER (ORDER BY lead_id)
               - row_number() OVER (PARTITION BY as_of, run_id ORDER BY lead_id) AS island
        FROM scoring.lead_scores
    ) r
    GROUP BY as_of, run_id, island
) islands
WINDOW w AS (ORDER BY first_id);

DROP VIEW scoring.contributions;
DROP VIEW scoring.engagement_points;
DROP TABLE scoring.lead_scores;
DROP TABLE scoring.profile_scores;

-- ---------------------------------------------------------------------------------------------
-- What is computed when read
-- ---------------------------------------------------------------------------------------------
CREATE VIEW scoring.scored_leads AS
SELECT i.lead_id, i.fits, i.model_version, i.config_hash, r.as_of, r.run_id, r.scored_at
FROM scoring.lead_score_inputs i
JOIN scoring.scored_ranges r ON i.lead_id BETWEEN r.low AND r.high;
COMMENT ON VIEW scoring.scored_leads IS 'Every scored lead with its inputs and the time its range was last scored to (scoring.scored_ranges).';
COMMENT ON COLUMN scoring.scored_leads.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.scored_leads.fits IS 'Fit points per profile, by scoring.profiles.profile_no.';
COMMENT ON COLUMN scoring.scored_leads.model_version IS 'scoring.version of the model that scored it.';
COMMENT ON COLUMN scoring.scored_leads.config_hash IS 'Hash of that model (scoring.models).';
COMMENT ON COLUMN scoring.scored_leads.as_of IS 'Time its lead-id range was last scored to: its score is computed to it.';
COMMENT ON COLUMN scoring.scored_leads.run_id IS 'Scoring run that scored its range (scoring.runs).';
COMMENT ON COLUMN scoring.scored_leads.scored_at IS 'When that run''s shard committed.';

CREATE VIEW scoring.engagement_points AS
SELECT s.lead_id, r.profile_id, r.rule_id,
       scoring.capped_points(scoring.faded(st.value, st.as_of, s.as_of, p.half_life_days), r.points, r.cap)
           AS points
FROM scoring.scored_leads s
JOIN scoring.rule_state st ON st.lead_id = s.lead_id
JOIN scoring.rules r ON r.config_hash = s.config_hash AND r.kind = 'engagement' AND r.rule_no = st.rule_no
JOIN scoring.profiles p ON p.config_hash = s.config_hash AND p.profile_id = r.profile_id;
COMMENT ON VIEW scoring.engagement_points IS 'Each lead''s engagement points per profile and rule at the time of its score: the rule state faded, capped and rounded (zeros included).';
COMMENT ON COLUMN scoring.engagement_points.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.engagement_points.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.engagement_points.rule_id IS 'Engagement rule id (scoring.rules).';
COMMENT ON COLUMN scoring.engagement_points.points IS 'Points the rule adds at scoring.lead_scores.as_of: faded and capped, in cents.';

-- As the engine adds up (kernel.profile_scores): the engagement points in cents, never below the floor;
-- the grade from the fit points, the band from the engagement points, the MQL rule on the total and grade.
-- The capped points are cents in float8, as the engine's: their float sum rounded to cents is their
-- exact sum, whatever the order PostgreSQL adds them in.
CREATE VIEW scoring.profile_scores AS
SELECT lead_id, profile_id, fit, engagement, total, grade,
       COALESCE(mql_min_score IS NOT NULL AND total::float8 >= mql_min_score
                AND (mql_min_grade IS NULL OR grade COLLATE "C" <= mql_min_grade COLLATE "C"), false) AS is_mql,
       engagement_band, profile_no, model_version, config_hash, as_of, scored_at, run_id
FROM (
    SELECT lead_id, profile_id, fit, engagement, (fit + engagement)::numeric(12, 2) AS total,
           grade_labels[width_bucket(fit::float8, grade_minimums)] AS grade,
           band_labels[width_bucket(engagement::float8, band_minimums)] AS engagement_band,
           mql_min_score, mql_min_grade, profile_no, model_version, config_hash, as_of, scored_at, run_id
    FROM (
        SELECT s.lead_id, p.profile_id, p.profile_no, s.fits[p.profile_no] AS fit,
               greatest(round(COALESCE(e.summed, 0)::numeric, 2), p.floor)::numeric(12, 2) AS engagement,
               m.grade_minimums, m.grade_labels, m.band_minimums, m.band_labels, m.mql_min_score,
               m.mql_min_grade, s.model_version, s.config_hash, s.as_of, s.scored_at, s.run_id
        FROM scoring.scored_leads s
        JOIN scoring.models m ON m.model_version = s.model_version AND m.config_hash = s.config_hash
        JOIN scoring.profiles p ON p.config_hash = s.config_hash
        LEFT JOIN (
            SELECT lead_id, profile_id, sum(points) AS summed
            FROM scoring.engagement_points GROUP BY lead_id, profile_id
        ) e ON e.lead_id = s.lead_id AND e.profile_id = p.profile_id
    ) summed
) graded;
COMMENT ON VIEW scoring.profile_scores IS 'Every scored lead''s score under every profile of its model (one row per lead and profile), at the time of its score: computed when read from scoring.lead_score_inputs and the engine state.';
COMMENT ON COLUMN scoring.profile_scores.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.profile_scores.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.profile_scores.fit IS 'Fit points under the profile.';
COMMENT ON COLUMN scoring.profile_scores.engagement IS 'Engagement points under the profile: faded to as_of, capped per rule, never below the floor.';
COMMENT ON COLUMN scoring.profile_scores.total IS 'fit + engagement under the profile.';
COMMENT ON COLUMN scoring.profile_scores.grade IS 'Grade from the profile''s fit points.';
COMMENT ON COLUMN scoring.profile_scores.is_mql IS 'Whether the lead meets the MQL rule under the profile.';
COMMENT ON COLUMN scoring.profile_scores.engagement_band IS 'Engagement band of the profile''s engagement points.';
COMMENT ON COLUMN scoring.profile_scores.profile_no IS 'Position of the profile in the model (scoring.profiles).';
COMMENT ON COLUMN scoring.profile_scores.model_version IS 'scoring.version of the model that computed it.';
COMMENT ON COLUMN scoring.profile_scores.config_hash IS 'Hash of that model (scoring.models).';
COMMENT ON COLUMN scoring.profile_scores.as_of IS 'Reference time: events after it are not counted yet; fading is computed to it.';
COMMENT ON COLUMN scoring.profile_scores.scored_at IS 'When the run that scored the lead''s range committed it.';
COMMENT ON COLUMN scoring.profile_scores.run_id IS 'Scoring run that scored it (scoring.runs).';

CREATE VIEW scoring.lead_scores AS
SELECT DISTINCT ON (ps.lead_id)
       ps.lead_id, ps.fit, ps.engagement, ps.total, ps.grade, ps.engagement_band,
       ps.grade || ps.engagement_band AS priority, ps.is_mql, ps.profile_id, ps.model_version, ps.config_hash,
       ps.as_of, ps.scored_at, ps.run_id,
       (SELECT max(h.scored_on) FROM scoring.score_history h
        WHERE h.lead_id = ps.lead_id AND h.model_version = ps.model_version) AS history_on
FROM scoring.profile_scores ps
-- The headline profile (kernel.pick_primary): one meeting the MQL rule, then the highest total, then
-- the earliest in the model.
ORDER BY ps.lead_id, ps.is_mql DESC, ps.total DESC, ps.profile_no;
COMMENT ON VIEW scoring.lead_scores IS 'The current score of every lead (exactly one row per lead, its best profile), computed when read from scoring.lead_score_inputs, the engine state (scoring.rule_state) and the time of its lead-id range (scoring.scored_ranges). Why a lead has its score: scoring.contributions.';
COMMENT ON COLUMN scoring.lead_scores.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.lead_scores.fit IS 'Fit points: who the lead is (sum of the matching fit rules).';
COMMENT ON COLUMN scoring.lead_scores.engagement IS 'Engagement points: what the lead did, faded to as_of, capped per rule, never below the floor.';
COMMENT ON COLUMN scoring.lead_scores.total IS 'The score: fit + engagement. vocabulary.mql.min_score and SLA tiers compare with it.';
COMMENT ON COLUMN scoring.lead_scores.grade IS 'Grade from the fit points (scoring.grades, A best); empty below the lowest threshold.';
COMMENT ON COLUMN scoring.lead_scores.engagement_band IS 'Engagement band from scoring.engagement_bands (1 hottest); empty when none is configured or reached.';
COMMENT ON COLUMN scoring.lead_scores.priority IS 'Fit x engagement matrix cell: grade and band (A1 best), empty without both.';
COMMENT ON COLUMN scoring.lead_scores.is_mql IS 'Whether the lead meets the MQL rule (vocabulary.mql) now.';
COMMENT ON COLUMN scoring.lead_scores.profile_id IS 'Profile the score comes from: one meeting the MQL rule if any, else the highest total ("default" = base rules).';
COMMENT ON COLUMN scoring.lead_scores.model_version IS 'scoring.version of the model that computed it.';
COMMENT ON COLUMN scoring.lead_scores.config_hash IS 'Hash of that model (scoring.models).';
COMMENT ON COLUMN scoring.lead_scores.as_of IS 'Reference time: events after it are not counted yet; fading is computed to it.';
COMMENT ON COLUMN scoring.lead_scores.scored_at IS 'When the run that scored the lead''s range committed it.';
COMMENT ON COLUMN scoring.lead_scores.run_id IS 'Scoring run that scored it (scoring.runs).';
COMMENT ON COLUMN scoring.lead_scores.history_on IS 'Day of the lead''s latest snapshot in scoring.score_history.';

-- The account rollup follows: a table rewritten every night would read every lead's score (the whole
-- state) and write a row per company each night.
DROP TABLE scoring.account_scores;
CREATE VIEW scoring.account_scores AS
SELECT l.company_id, count(*)::integer AS leads, (count(*) FILTER (WHERE s.engagement > 0))::integer AS engaged_leads,
       (count(*) FILTER (WHERE s.is_mql))::integer AS mql_leads, max(s.total) AS best_total,
       min(s.grade) AS best_grade, sum(s.engagement)::numeric(14, 2) AS total_engagement,
       (array_agg(s.lead_id ORDER BY s.total DESC, s.lead_id))[1] AS top_lead_id,
       max(s.model_version) AS model_version, max(s.as_of) AS as_of
FROM scoring.lead_scores s JOIN core.leads l ON l.lead_id = s.lead_id
WHERE l.company_id IS NOT NULL
GROUP BY l.company_id;
COMMENT ON VIEW scoring.account_scores IS 'Scores rolled up per company (account-based view): how many of its leads engage or qualify, and its best lead. Computed when read from scoring.lead_scores.';
COMMENT ON COLUMN scoring.account_scores.company_id IS 'Company (core.companies.company_id).';
COMMENT ON COLUMN scoring.account_scores.leads IS 'Scored leads of the company.';
COMMENT ON COLUMN scoring.account_scores.engaged_leads IS 'Leads with positive engagement points.';
COMMENT ON COLUMN scoring.account_scores.mql_leads IS 'Leads meeting the MQL rule now.';
COMMENT ON COLUMN scoring.account_scores.best_total IS 'Highest lead score of the company.';
COMMENT ON COLUMN scoring.account_scores.best_grade IS 'Best lead grade of the company.';
COMMENT ON COLUMN scoring.account_scores.total_engagement IS 'Engagement points of its leads added up.';
COMMENT ON COLUMN scoring.account_scores.top_lead_id IS 'Its lead with the highest score (the lowest id among equals).';
COMMENT ON COLUMN scoring.account_scores.model_version IS 'Model version of the scores.';
COMMENT ON COLUMN scoring.account_scores.as_of IS 'Reference time of the latest of the scores.';

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
FROM scoring.scored_leads s
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

-- ---------------------------------------------------------------------------------------------
-- The event-change log reads the time a lead was scored to from the stored tables, not the view
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION scoring.log_event_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes (lead_id, event_id, image, occurred_at)
    SELECT n.lead_id, n.event_id, 'new', n.occurred_at
    FROM new_rows n JOIN scoring.scored_leads s ON s.lead_id = n.lead_id
    WHERE n.occurred_at <= s.as_of;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scoring.log_event_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes
           (lead_id, event_id, image, event_type, occurred_at, campaign_id, content_topic, attributes)
    SELECT o.lead_id, o.event_id, 'old', o.event_type, o.occurred_at, o.campaign_id, o.content_topic, o.attributes
    FROM old_rows o JOIN scoring.scored_leads s ON s.lead_id = o.lead_id
    WHERE o.occurred_at <= s.as_of;
    INSERT INTO scoring.event_changes (lead_id, event_id, image, occurred_at)
    SELECT n.lead_id, n.event_id, 'new', n.occurred_at
    FROM new_rows n JOIN scoring.scored_leads s ON s.lead_id = n.lead_id
    WHERE n.occurred_at <= s.as_of;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scoring.log_event_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes
           (lead_id, event_id, image, event_type, occurred_at, campaign_id, content_topic, attributes)
    SELECT o.lead_id, o.event_id, 'old', o.event_type, o.occurred_at, o.campaign_id, o.content_topic, o.attributes
    FROM old_rows o JOIN scoring.scored_leads s ON s.lead_id = o.lead_id
    WHERE o.occurred_at <= s.as_of;
    RETURN NULL;
END $$;
