-- Fading moves nearly every engaged lead's total every night, so a table of scores was rewritten whole
-- every night (200k of the 264k rows a night wrote at 200k leads). Between two changes of its inputs a
-- lead's engagement is max(floor, C + A x d): C the caps that bind, A the other rules' uncapped sum, d the
-- fading since. A stored row keeps C and A (A scaled to the warehouse's anchor, so that one factor per
-- profile fades every row) and the view computes the engagement at the warehouse's reference time; a
-- night computes in numpy, with the same float8 operations in the same order, what the view would show
-- and rewrites only the rows that would show another cent, band, grade, MQL state, profile or history
-- day (smarketing.scoring.closed). The engagement sum is rounded once (migration 0028), so the closed
-- form gives the stored engagement exactly; when a cap releases, the night sees the difference and
-- rewrites the row.
--
-- Rows stored before this migration carry no C or A (0): with no reference time yet, the view shows them
-- as stored. The first run after it is a full rescore (smarketing.scoring.runner.plan_run: the last
-- finished run's summary lacks `closed_form`), which rewrites every row in closed form and sets the time.

DROP VIEW scoring.contributions;
DROP VIEW scoring.engagement_points;

ALTER TABLE scoring.lead_scores RENAME TO score_rows;
ALTER INDEX scoring.lead_scores_lead_idx RENAME TO score_rows_lead_idx;
ALTER TABLE scoring.score_rows
    ADD COLUMN capped float8 NOT NULL DEFAULT 0,
    ADD COLUMN fading float8 NOT NULL DEFAULT 0,
    ADD COLUMN profile_no integer NOT NULL DEFAULT 0,
    ADD COLUMN floor_cents bigint;
COMMENT ON TABLE scoring.score_rows IS 'Each lead''s score as of the run that wrote it, with what its engagement is computed from at a later time (capped, fading): read it through scoring.lead_scores, which shows it at the warehouse''s reference time (scoring.score_clock).';
COMMENT ON COLUMN scoring.score_rows.engagement IS 'Engagement points at as_of (this row''s time).';
COMMENT ON COLUMN scoring.score_rows.total IS 'fit + engagement at as_of (this row''s time).';
COMMENT ON COLUMN scoring.score_rows.as_of IS 'Reference time this row was computed to; scoring.lead_scores shows the row as stored while it is not older than scoring.score_clock.as_of.';
COMMENT ON COLUMN scoring.score_rows.capped IS 'C: sum of the headline profile''s capped values of rules whose cap binds at as_of (they do not fade while it binds).';
COMMENT ON COLUMN scoring.score_rows.fading IS 'A: sum of the other rules'' uncapped values, scaled to scoring.score_clock.anchor (times the clock''s factor it is their value at the clock''s time).';
COMMENT ON COLUMN scoring.score_rows.profile_no IS 'Position of the headline profile in the model (0 first): which of scoring.score_clock.factors fades the row.';
COMMENT ON COLUMN scoring.score_rows.floor_cents IS 'The profile''s engagement floor in cents (empty: no floor).';

CREATE TABLE scoring.score_clock (
    one      boolean     PRIMARY KEY DEFAULT true CHECK (one),
    as_of    timestamptz NOT NULL,
    anchor   timestamptz NOT NULL,
    factors  float8[]    NOT NULL,
    run_id   text        NOT NULL
);
COMMENT ON TABLE scoring.score_clock IS 'The warehouse''s scoring reference time (one row, moved by each finished run): scoring.lead_scores shows every stored row at it.';
COMMENT ON COLUMN scoring.score_clock.one IS 'Always true: the table holds one row.';
COMMENT ON COLUMN scoring.score_clock.as_of IS 'Reference time of the last finished run: scores are faded to it.';
COMMENT ON COLUMN scoring.score_clock.anchor IS 'Instant the stored rows'' fading sums (scoring.score_rows.fading) are scaled to; set by a run that rewrites every row.';
COMMENT ON COLUMN scoring.score_clock.factors IS 'Per profile (in model order): 2^(-(as_of - anchor) / half-life), 1 without half-life. Computed by the run (numpy) and stored, so the view and the run multiply by the same float8.';
COMMENT ON COLUMN scoring.score_clock.run_id IS 'Run that set it (scoring.runs).';

-- The closed form in whole cents, in the float8 operations and order the run checks it with
-- (smarketing.scoring.closed.shown_cents): a single expression, so PostgreSQL inlines it into the view.
CREATE FUNCTION scoring.closed_cents(capped float8, fading float8, factor float8, floor_cents bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(round((capped + fading * factor) * 100::float8)::bigint, floor_cents)
$$;
COMMENT ON FUNCTION scoring.closed_cents(float8, float8, float8, bigint) IS 'A stored score row''s engagement in cents at a time whose fading factor is `factor`: max(floor, round(C + A x factor, 2)), rounded half to even.';

-- A row not older than the clock (the clock not set yet, a row written by a run still in progress or
-- by hand) shows what it stores; an older one its closed form at the clock's time. The clock is read by
-- scalar subqueries, which PostgreSQL evaluates once per query (InitPlans): joined instead, it made the
-- SLA clock's score join of a few thousand MQLs hash every row (0.11 s of CPU against 0.02 s).
CREATE VIEW scoring.lead_scores AS
SELECT r.lead_id, r.fit,
       CASE WHEN (r.as_of >= (SELECT as_of FROM scoring.score_clock)) IS NOT FALSE THEN r.engagement
            ELSE (scoring.closed_cents(r.capped, r.fading, (SELECT factors FROM scoring.score_clock)[r.profile_no + 1],
                                       r.floor_cents) * 0.01)::numeric(12, 2) END AS engagement,
       CASE WHEN (r.as_of >= (SELECT as_of FROM scoring.score_clock)) IS NOT FALSE THEN r.total
            ELSE ((r.fit * 100::bigint
                   + scoring.closed_cents(r.capped, r.fading, (SELECT factors FROM scoring.score_clock)[r.profile_no + 1],
                                          r.floor_cents)) * 0.01)::numeric(12, 2) END AS total,
       r.grade, r.engagement_band, r.priority, r.is_mql, r.profile_id, r.model_version, r.config_hash,
       greatest(r.as_of, (SELECT as_of FROM scoring.score_clock)) AS as_of, r.scored_at, r.run_id, r.history_on
FROM scoring.score_rows r;
COMMENT ON VIEW scoring.lead_scores IS 'The current score of every lead (exactly one row per lead, its best profile), at the warehouse''s reference time. Why a lead has its score: scoring.contributions. Stored in closed form (scoring.score_rows); a scoring run rewrites a row when it would no longer show the exact score.';
COMMENT ON COLUMN scoring.lead_scores.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.lead_scores.fit IS 'Fit points: who the lead is (sum of the matching fit rules).';
COMMENT ON COLUMN scoring.lead_scores.engagement IS 'Engagement points: what the lead did, faded to as_of, capped per rule, summed and rounded once, never below the floor.';
COMMENT ON COLUMN scoring.lead_scores.total IS 'The score: fit + engagement. vocabulary.mql.min_score and SLA tiers compare with it.';
COMMENT ON COLUMN scoring.lead_scores.grade IS 'Grade from the fit points (scoring.grades, A best); empty below the lowest threshold.';
COMMENT ON COLUMN scoring.lead_scores.engagement_band IS 'Engagement band from scoring.engagement_bands (1 hottest); empty when none is configured or reached.';
COMMENT ON COLUMN scoring.lead_scores.priority IS 'Fit x engagement matrix cell: grade and band (A1 best), empty without both.';
COMMENT ON COLUMN scoring.lead_scores.is_mql IS 'Whether the lead meets the MQL rule (vocabulary.mql) now.';
COMMENT ON COLUMN scoring.lead_scores.profile_id IS 'Profile the score comes from: one meeting the MQL rule if any, else the highest total ("default" = base rules).';
COMMENT ON COLUMN scoring.lead_scores.model_version IS 'scoring.version of the model that computed it.';
COMMENT ON COLUMN scoring.lead_scores.config_hash IS 'Hash of that model (scoring.models).';
COMMENT ON COLUMN scoring.lead_scores.as_of IS 'Reference time: events after it are not counted yet; fading is computed to it.';
COMMENT ON COLUMN scoring.lead_scores.scored_at IS 'When the stored row was last written (a night leaves the rows whose closed form still holds).';
COMMENT ON COLUMN scoring.lead_scores.run_id IS 'Scoring run that last wrote the stored row (scoring.runs).';
COMMENT ON COLUMN scoring.lead_scores.history_on IS 'Day of the lead''s latest row in scoring.score_history.';

-- Rows written through the view (fixtures, hand corrections) are stored as they are: their engagement
-- a constant (C = engagement, A = 0), shown as written while not older than the clock.
CREATE FUNCTION scoring.write_lead_scores() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM scoring.score_rows WHERE lead_id = OLD.lead_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    INSERT INTO scoring.score_rows (lead_id, fit, engagement, total, grade, engagement_band, priority, is_mql,
                                    profile_id, model_version, config_hash, as_of, scored_at, run_id,
                                    history_on, capped)
    VALUES (NEW.lead_id, NEW.fit, NEW.engagement, NEW.total, NEW.grade, NEW.engagement_band, NEW.priority,
            NEW.is_mql, NEW.profile_id, NEW.model_version, NEW.config_hash, NEW.as_of, NEW.scored_at,
            NEW.run_id, NEW.history_on, NEW.engagement);
    RETURN NEW;
END
$$;
CREATE TRIGGER lead_scores_write INSTEAD OF INSERT OR UPDATE OR DELETE ON scoring.lead_scores
FOR EACH ROW EXECUTE FUNCTION scoring.write_lead_scores();

-- As in migration 0028, over the view: a lead's engagement rows are faded to its score's as_of.
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
