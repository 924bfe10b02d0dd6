-- kpi.score_quality_monthly: does the score still predict? The leads each model version handed over
-- (scoring.mql_crossings) per month of crossing, their outcome since (an SQL stage, a won deal), by score
-- band and grade at hand-over, and the AUC of the score at hand-over against each outcome, from rank
-- sums (Mann-Whitney): ties share their average rank, so a tie counts half.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= cohort_month < hi; %(tz)s
WITH crossings AS (
    SELECT c.lead_id, c.model_version, c.crossed_at, c.total, c.grade,
           date_trunc('month', c.crossed_at AT TIME ZONE %(tz)s)::date AS cohort_month
    FROM scoring.mql_crossings c
    WHERE c.crossed_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND c.crossed_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
),

-- a lead won after its crossing if its last win was: one lookup per crossing, not a probe of the deals
last_wins AS (
    SELECT lead_id, max(won_at) AS last_won_at FROM _kpi_deals WHERE won_at IS NOT NULL GROUP BY lead_id
),

outcomes AS (
    SELECT c.*,
           COALESCE(l.sql_at >= c.crossed_at, false) AS reached_sql,
           COALESCE(w.last_won_at >= c.crossed_at, false) AS won
    FROM crossings c
    JOIN _kpi_leads l USING (lead_id)
    LEFT JOIN last_wins w USING (lead_id)
),

ranked AS (
    SELECT o.*,
           rank() OVER cohort_by_score
               + (count(*) OVER (PARTITION BY model_version, cohort_month, total) - 1) / 2.0 AS score_rank
    FROM outcomes o
    WINDOW cohort_by_score AS (PARTITION BY model_version, cohort_month ORDER BY total)
),

auc AS (
    SELECT model_version, cohort_month,
           round((sum(score_rank) FILTER (WHERE reached_sql)
                  - count(*) FILTER (WHERE reached_sql) * (count(*) FILTER (WHERE reached_sql) + 1) / 2.0)
                 / NULLIF(count(*) FILTER (WHERE reached_sql) * count(*) FILTER (WHERE NOT reached_sql), 0), 4) AS auc_sql,
           round((sum(score_rank) FILTER (WHERE won)
                  - count(*) FILTER (WHERE won) * (count(*) FILTER (WHERE won) + 1) / 2.0)
                 / NULLIF(count(*) FILTER (WHERE won) * count(*) FILTER (WHERE NOT won), 0), 4) AS auc_won
    FROM ranked
    GROUP BY model_version, cohort_month
),

-- the three slicings in one pass over the crossings
slices AS (
    SELECT model_version, cohort_month,
           CASE WHEN GROUPING(band) = 0 THEN 'score_band' WHEN GROUPING(grade) = 0 THEN 'grade' ELSE 'all' END
               AS slice_kind,
           CASE WHEN GROUPING(band) = 0 THEN band WHEN GROUPING(grade) = 0 THEN grade ELSE 'all' END AS slice,
           count(*) AS handed_over,
           count(*) FILTER (WHERE reached_sql) AS reached_sql,
           count(*) FILTER (WHERE won) AS won
    FROM (
        SELECT model_version, cohort_month, reached_sql, won,
               (floor(total / 10) * 10)::int || '-' || ((floor(total / 10) * 10)::int + 9) AS band,
               COALESCE(grade, 'none') AS grade
        FROM outcomes
    ) AS o
    GROUP BY GROUPING SETS ((model_version, cohort_month), (model_version, cohort_month, band),
                            (model_version, cohort_month, grade))
)

SELECT s.model_version, s.cohort_month, s.slice_kind, s.slice,
       s.handed_over,
       s.reached_sql,
       s.won,
       round(s.reached_sql::numeric / s.handed_over, 4) AS sql_rate,
       round(s.won::numeric / s.handed_over, 4) AS won_rate,
       CASE WHEN s.slice_kind = 'all' THEN a.auc_sql END AS auc_sql,
       CASE WHEN s.slice_kind = 'all' THEN a.auc_won END AS auc_won
FROM slices s
JOIN auc a USING (model_version, cohort_month)
