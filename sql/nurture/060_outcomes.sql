-- nurture.scenario_outcomes (emptied first, in the same transaction): per scenario and month of entry, enrolled (actually pushed) vs
-- held-out leads, the share of each that reached an outcome after entering (counted up to %(as_of)s;
-- both arms entered at the same moments, so a young cohort understates both alike), the difference and
-- its 95 per cent interval (normal approximation for the difference of two proportions).
WITH cohort AS (
    SELECT e.lead_id, e.scenario_id, e.arm, e.planned_at,
           date_trunc('month', e.planned_at AT TIME ZONE %(timezone)s)::date AS cohort_month
    FROM nurture.enrollments e
    WHERE e.state <> 'skipped' AND e.planned_at <= %(as_of)s
      AND (e.arm = 'held_out' OR e.pushed_at IS NOT NULL)
),
facts AS (
    SELECT c.*,
           (SELECT min(x.crossed_at) FROM scoring.mql_crossings x
            WHERE x.lead_id = c.lead_id AND x.crossed_at > c.planned_at AND x.crossed_at <= %(as_of)s) AS mql_at,
           EXISTS (SELECT 1 FROM core.lifecycle_history h
                   WHERE h.lead_id = c.lead_id AND h.stage = ANY (%(sql_stages)s::text[])
                     AND h.entered_at > c.planned_at AND h.entered_at <= %(as_of)s) AS reached_sql,
           EXISTS (SELECT 1 FROM core.deals d
                   WHERE d.lead_id = c.lead_id AND d.is_won AND d.deleted_at IS NULL
                     AND d.closed_at > c.planned_at AND d.closed_at <= %(as_of)s) AS won,
           EXISTS (SELECT 1 FROM core.leads l
                   WHERE l.lead_id = c.lead_id AND l.unsubscribed_at > c.planned_at
                     AND l.unsubscribed_at <= %(as_of)s) AS unsubscribed
    FROM cohort c
),
hits AS (
    SELECT f.scenario_id, f.cohort_month, f.arm, m.metric, m.hit
    FROM facts f
    CROSS JOIN LATERAL (VALUES
        ('mql_30d', f.mql_at <= f.planned_at + interval '30 days'),
        ('mql_60d', f.mql_at <= f.planned_at + interval '60 days'),
        ('mql_90d', f.mql_at <= f.planned_at + interval '90 days'),
        ('sql', f.reached_sql),
        ('won', f.won),
        ('unsubscribed', f.unsubscribed)
    ) AS m (metric, hit)
),
counted AS (
    SELECT scenario_id, cohort_month, metric,
           count(*) FILTER (WHERE arm = 'enrolled') AS enrolled,
           count(*) FILTER (WHERE arm = 'enrolled' AND hit) AS enrolled_hits,
           count(*) FILTER (WHERE arm = 'held_out') AS held_out,
           count(*) FILTER (WHERE arm = 'held_out' AND hit) AS held_out_hits
    FROM hits
    GROUP BY scenario_id, cohort_month, metric
),
rates AS (
    SELECT c.*,
           c.enrolled_hits::float8 / NULLIF(c.enrolled, 0) AS p1,
           c.held_out_hits::float8 / NULLIF(c.held_out, 0) AS p0
    FROM counted c
)
INSERT INTO nurture.scenario_outcomes
    (scenario_id, cohort_month, metric, enrolled, enrolled_hits, held_out, held_out_hits,
     enrolled_rate, held_out_rate, difference, ci_low, ci_high)
SELECT r.scenario_id, r.cohort_month, r.metric, r.enrolled, r.enrolled_hits, r.held_out, r.held_out_hits,
       r.p1, r.p0, r.p1 - r.p0,
       r.p1 - r.p0 - 1.959964 * sqrt(r.p1 * (1 - r.p1) / r.enrolled + r.p0 * (1 - r.p0) / r.held_out),
       r.p1 - r.p0 + 1.959964 * sqrt(r.p1 * (1 - r.p1) / r.enrolled + r.p0 * (1 - r.p0) / r.held_out)
FROM rates r
