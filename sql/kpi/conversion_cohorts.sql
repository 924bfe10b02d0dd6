-- kpi.conversion_cohorts: leads grouped by the month they became MQL (mql_month) or were created
-- (created_month); what they went on to do counts for that cohort whenever it happened, up to the end of
-- the cohort month plus the agreed horizon (after that the cohort is closed and never changes again).
--   %(lo)s, %(hi)s     the cohort months to build (first days): lo <= cohort_month < hi
--   %(tz)s             the organisation's time zone; %(as_of)s the build's moment (open or closed)
--   %(horizon_days)s   days after the cohort month during which conversions still count
-- Each start's local time finds its cohort by a binary search of the months' first days (width_bucket),
-- its window's end in the same month's entry (one time zone conversion per start, not three); the
-- counts are hashed, and only the durations there are sorted for the percentiles, in byte order
-- (COLLATE "C": the same groups, as equality of text does not depend on collation).
WITH months AS NOT MATERIALIZED (
    -- months as local timestamps (not timestamptz): the session's zone plays no part
    SELECT m::date AS month, m AS starts_at,
           (m + interval '1 month' - interval '1 day')::date + %(horizon_days)s::int AS open_until,
           ops.kpi_day_start((m + interval '1 month')::date + %(horizon_days)s::int, %(tz)s) AS counts_until
    FROM generate_series(
        %(lo)s::date::timestamp,
        -- one past the last month built: the upper bound of the last bucket (no start is after as_of)
        least(%(hi)s::date::timestamp, date_trunc('month', %(as_of)s::timestamptz AT TIME ZONE %(tz)s) + interval '1 month'),
        interval '1 month'
    ) AS m
),

bounds AS MATERIALIZED (
    SELECT array_agg(month ORDER BY month) AS months, array_agg(starts_at ORDER BY month) AS starts,
           array_agg(open_until ORDER BY month) AS open_untils, array_agg(counts_until ORDER BY month) AS counts_untils
    FROM months
),

cohort_starts AS NOT MATERIALIZED (
    SELECT 'mql_month' AS cohort_kind, l.lead_id, l.channel, l.persona, l.country, l.industry, l.mql_at, l.sql_at,
           l.first_won_at, l.mql_at AS started_at
    FROM _kpi_leads l
    WHERE l.mql_at IS NOT NULL
    UNION ALL
    SELECT 'created_month', l.lead_id, l.channel, l.persona, l.country, l.industry, l.mql_at, l.sql_at, l.first_won_at,
           l.created_at
    FROM _kpi_leads l
    WHERE l.created_at IS NOT NULL
),

members AS (
    SELECT s.*, width_bucket(s.started_at AT TIME ZONE %(tz)s, (SELECT starts FROM bounds)) AS bucket
    FROM cohort_starts s
    WHERE s.started_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND s.started_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
),

windows AS MATERIALIZED (
    SELECT m.*, (SELECT counts_untils FROM bounds)[m.bucket] AS counts_until FROM members m
),

won_deals AS (
    SELECT w.cohort_kind, w.lead_id, min(d.won_at) AS first_won_at, sum(d.amount) AS won_revenue
    FROM windows w
    JOIN _kpi_deals d ON d.lead_id = w.lead_id AND d.won_at < w.counts_until
    -- only the members whose lead's first win (stg_leads.sql: its earliest live win, so no staged deal's
    -- win is earlier) falls in the window probe the deals: most leads won nothing
    WHERE w.first_won_at < w.counts_until
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

durations AS MATERIALIZED (
    SELECT o.cohort_kind COLLATE "C" AS cohort_kind, o.bucket, o.channel COLLATE "C" AS channel,
           o.persona COLLATE "C" AS persona, o.country COLLATE "C" AS country, o.industry COLLATE "C" AS industry,
           o.mql_in, o.sql_in, o.won_in, o.won_revenue,
           -- an MQL cohort's leads start as MQLs: no time to MQL
           CASE WHEN o.cohort_kind = 'created_month' THEN date_part('epoch', o.mql_in - o.started_at) / 86400 END
               AS days_to_mql,
           date_part('epoch', o.sql_in - o.started_at) / 86400 AS days_to_sql,
           date_part('epoch', o.won_in - o.started_at) / 86400 AS days_to_won
    FROM outcomes o
),

counts AS (
    SELECT cohort_kind, bucket, channel, persona, country, industry,
           count(*) AS leads,
           count(mql_in) AS mqls,
           count(sql_in) AS sqls,
           count(won_in) AS won,
           COALESCE(sum(won_revenue), 0) AS won_revenue,
           count(*) FILTER (WHERE mql_in IS NOT NULL AND sql_in IS NOT NULL) AS mql_and_sql,
           count(*) FILTER (WHERE sql_in IS NOT NULL AND won_in IS NOT NULL) AS sql_and_won,
           count(*) FILTER (WHERE mql_in IS NOT NULL AND won_in IS NOT NULL) AS mql_and_won
    FROM durations
    GROUP BY 1, 2, 3, 4, 5, 6
),

-- the percentiles sort only the durations there are (most leads reach no further step), one measure a row
spans AS (
    SELECT cohort_kind, bucket, channel, persona, country, industry, days_to_mql, NULL::float8 AS days_to_sql,
           NULL::float8 AS days_to_won
    FROM durations WHERE days_to_mql IS NOT NULL
    UNION ALL
    SELECT cohort_kind, bucket, channel, persona, country, industry, NULL, days_to_sql, NULL
    FROM durations WHERE days_to_sql IS NOT NULL
    UNION ALL
    SELECT cohort_kind, bucket, channel, persona, country, industry, NULL, NULL, days_to_won
    FROM durations WHERE days_to_won IS NOT NULL
),

percentiles AS (
    SELECT cohort_kind, bucket, channel, persona, country, industry,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_mql) AS median_days_to_mql,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_mql) AS p75_days_to_mql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_sql) AS median_days_to_sql,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_sql) AS p75_days_to_sql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_won) AS median_days_to_won,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY days_to_won) AS p75_days_to_won
    FROM spans
    GROUP BY 1, 2, 3, 4, 5, 6
)

SELECT c.cohort_kind, (SELECT months FROM bounds)[c.bucket] AS cohort_month, c.channel, c.persona, c.country, c.industry,
       c.leads, c.mqls, c.sqls, c.won, c.won_revenue,
       round(c.mql_and_sql::numeric / NULLIF(c.mqls, 0), 4) AS mql_to_sql_rate,
       round(c.sql_and_won::numeric / NULLIF(c.sqls, 0), 4) AS sql_to_won_rate,
       round(c.mql_and_won::numeric / NULLIF(c.mqls, 0), 4) AS mql_to_won_rate,
       round(p.median_days_to_mql::numeric, 2) AS median_days_to_mql,
       round(p.p75_days_to_mql::numeric, 2) AS p75_days_to_mql,
       round(p.median_days_to_sql::numeric, 2) AS median_days_to_sql,
       round(p.p75_days_to_sql::numeric, 2) AS p75_days_to_sql,
       round(p.median_days_to_won::numeric, 2) AS median_days_to_won,
       round(p.p75_days_to_won::numeric, 2) AS p75_days_to_won,
       (SELECT open_untils FROM bounds)[c.bucket] AS open_until,
       (SELECT open_untils FROM bounds)[c.bucket] >= (%(as_of)s::timestamptz AT TIME ZONE %(tz)s)::date AS is_open
FROM counts c
LEFT JOIN percentiles p USING (cohort_kind, bucket, channel, persona, country, industry)
