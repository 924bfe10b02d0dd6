-- kpi.conversion_cohorts: leads grouped by the month they became MQL (mql_month) or were created
-- (created_month); what they went on to do counts for that cohort whenever it happened, up to the end of
-- the cohort month plus the agreed horizon (after that the cohort is closed and never changes again).
--   %(lo)s, %(hi)s     the cohort months to build (first days): lo <= cohort_month < hi
--   %(tz)s             the organisation's time zone; %(as_of)s the build's moment (open or closed)
--   %(horizon_days)s   days after the cohort month during which conversions still count
WITH cohort_starts AS (
    SELECT 'mql_month' AS cohort_kind, l.*, l.mql_at AS started_at FROM _kpi_leads l WHERE l.mql_at IS NOT NULL
    UNION ALL
    SELECT 'created_month', l.*, l.created_at FROM _kpi_leads l WHERE l.created_at IS NOT NULL
),

members AS (
    SELECT s.*, date_trunc('month', s.started_at AT TIME ZONE %(tz)s)::date AS cohort_month
    FROM cohort_starts s
    WHERE s.started_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s)
      AND s.started_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
),

windows AS (
    SELECT m.*,
           (m.cohort_month + interval '1 month' - interval '1 day')::date + %(horizon_days)s::int AS open_until,
           ((m.cohort_month + interval '1 month')::date + %(horizon_days)s::int)::timestamp AT TIME ZONE %(tz)s AS counts_until
    FROM members m
),

won_deals AS (
    SELECT w.cohort_kind, w.lead_id, min(d.won_at) AS first_won_at, sum(d.amount) AS won_revenue
    FROM windows w
    JOIN _kpi_deals d ON d.lead_id = w.lead_id AND d.won_at < w.counts_until
    GROUP BY w.cohort_kind, w.lead_id
),

-- steps reached within the cohort's window
outcomes AS (
    SELECT w.*,
           CASE WHEN w.mql_at < w.counts_until THEN w.mql_at END AS mql_in,
           CASE WHEN w.sql_at < w.counts_until THEN w.sql_at END AS sql_in,
           won.first_won_at AS won_in,
           won.won_revenue
    FROM windows w
    LEFT JOIN won_deals won USING (cohort_kind, lead_id)
),

durations AS (
    SELECT o.*,
           extract(epoch FROM o.mql_in - o.started_at) / 86400 AS days_to_mql,
           extract(epoch FROM o.sql_in - o.started_at) / 86400 AS days_to_sql,
           extract(epoch FROM o.won_in - o.started_at) / 86400 AS days_to_won
    FROM outcomes o
)

SELECT cohort_kind, cohort_month, channel, persona, country, industry,
       count(*) AS leads,
       count(mql_in) AS mqls,
       count(sql_in) AS sqls,
       count(won_in) AS won,
       COALESCE(sum(won_revenue), 0) AS won_revenue,
       round(count(*) FILTER (WHERE mql_in IS NOT NULL AND sql_in IS NOT NULL)::numeric / NULLIF(count(mql_in), 0), 4)
           AS mql_to_sql_rate,
       round(count(*) FILTER (WHERE sql_in IS NOT NULL AND won_in IS NOT NULL)::numeric / NULLIF(count(sql_in), 0), 4)
           AS sql_to_won_rate,
       round(count(*) FILTER (WHERE mql_in IS NOT NULL AND won_in IS NOT NULL)::numeric / NULLIF(count(mql_in), 0), 4)
           AS mql_to_won_rate,
       CASE WHEN cohort_kind = 'created_month' THEN
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_mql)::numeric, 2) END AS median_days_to_mql,
       CASE WHEN cohort_kind = 'created_month' THEN
           round(percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_mql)::numeric, 2) END AS p75_days_to_mql,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_sql)::numeric, 2) AS median_days_to_sql,
       round(percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_sql)::numeric, 2) AS p75_days_to_sql,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_won)::numeric, 2) AS median_days_to_won,
       round(percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_won)::numeric, 2) AS p75_days_to_won,
       open_until,
       open_until >= (%(as_of)s::timestamptz AT TIME ZONE %(tz)s)::date AS is_open
FROM durations
GROUP BY cohort_kind, cohort_month, channel, persona, country, industry, open_until
