-- kpi.score_quality_monthly: does the score still predict? The leads each model version handed over
-- (scoring.mql_crossings) per month of crossing, their outcome since (an SQL stage, a won deal), by score
-- band and grade at hand-over, and the AUC of the score at hand-over against each outcome, from rank
-- sums (Mann-Whitney): ties share their average rank, so a tie counts half.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= cohort_month < hi; %(tz)s
WITH crossings AS (
    SELECT c.lead_id, c.model_version, c.crossed_at, c.total, c.grade,
           date_trunc('month', c.crossed_at AT TIME ZONE %(tz)s)::date AS cohort_month
    FROM scoring.mql_crossings c
    WHERE c.crossed_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s)
      AND c.crossed_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
),

outcomes AS (
    SELECT c.*,
           COALESCE(l.sql_at >= c.crossed_at, false) AS reached_sql,
           EXISTS (SELECT 1 FROM _kpi_deals d WHERE d.lead_id = c.lead_id AND d.won_at >= c.crossed_at) AS won
    FROM crossings c
    JOIN _kpi_leads l USING (lead_id)
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

slices AS (
    SELECT model_version, cohort_month, 'all' AS slice_kind, 'all' AS slice, reached_sql, won FROM outcomes
    UNION ALL
    SELECT model_version, cohort_month, 'score_band',
           (floor(total / 10) * 10)::int || '-' || ((floor(total / 10) * 10)::int + 9), reached_sql, won
    FROM outcomes
    UNION ALL
    SELECT model_version, cohort_month, 'grade', COALESCE(grade, 'none'), reached_sql, won FROM outcomes
)

SELECT s.model_version, s.cohort_month, s.slice_kind, s.slice,
       count(*) AS handed_over,
       count(*) FILTER (WHERE s.reached_sql) AS reached_sql,
       count(*) FILTER (WHERE s.won) AS won,
       round(count(*) FILTER (WHERE s.reached_sql)::numeric / count(*), 4) AS sql_rate,
       round(count(*) FILTER (WHERE s.won)::numeric / count(*), 4) AS won_rate,
       CASE WHEN s.slice_kind = 'all' THEN a.auc_sql END AS auc_sql,
       CASE WHEN s.slice_kind = 'all' THEN a.auc_won END AS auc_won
FROM slices s
JOIN auc a USING (model_version, cohort_month)
GROUP BY s.model_version, s.cohort_month, s.slice_kind, s.slice, a.auc_sql, a.auc_won
