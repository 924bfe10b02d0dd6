-- kpi.velocity_monthly: median days between consecutive funnel stages, counted in the month the later
-- stage was reached (only leads that reached both, the later one not before the earlier one), and the
-- lead velocity rate: MQLs of the month against the month before. Channel "all" is every lead.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
-- One scan of the staged leads per transition (a join of each lead with a list of its steps costs more),
-- the MQL and the time to it from the lead's creation in one row (they end at the same moment: one month
-- found, not two); the counts are hashed, and only the transitions with a duration are sorted for the
-- medians (a lead created after its MQL moment has none).
WITH steps AS (
    SELECT channel, 'new_lead' AS step, NULL::timestamptz AS from_at, created_at AS to_at FROM _kpi_leads
    UNION ALL
    SELECT channel, 'mql', CASE WHEN created_at <= mql_at THEN created_at END, mql_at FROM _kpi_leads
    UNION ALL
    SELECT channel, 'mql_to_sql', mql_at, sql_at FROM _kpi_leads WHERE mql_at <= sql_at
    UNION ALL
    SELECT channel, 'sql_to_opportunity', sql_at, opportunity_at FROM _kpi_leads WHERE sql_at <= opportunity_at
    UNION ALL
    SELECT channel, 'opportunity_to_customer', opportunity_at, customer_at FROM _kpi_leads WHERE opportunity_at <= customer_at
),

transitions AS (
    SELECT s.*, date_trunc('month', s.to_at AT TIME ZONE %(tz)s)::date AS month
    FROM steps s
    -- the month before the first is read for its MQLs only (the lead velocity rate's baseline)
    WHERE s.to_at >= ops.kpi_day_start((%(lo)s::date - interval '1 month')::date, %(tz)s)
      AND s.to_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
      AND (s.step = 'mql' OR s.to_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s))
),

counts AS (
    SELECT month, channel, GROUPING(channel) AS rollup,
           count(*) FILTER (WHERE step = 'new_lead') AS new_leads,
           count(*) FILTER (WHERE step = 'mql') AS mqls,
           count(from_at) FILTER (WHERE step = 'mql') AS lead_to_mql,
           count(*) FILTER (WHERE step = 'mql_to_sql') AS mql_to_sql,
           count(*) FILTER (WHERE step = 'sql_to_opportunity') AS sql_to_opportunity,
           count(*) FILTER (WHERE step = 'opportunity_to_customer') AS opportunity_to_customer
    FROM transitions
    GROUP BY GROUPING SETS ((month, channel), (month))
),

medians AS (
    SELECT month, channel, GROUPING(channel) AS rollup,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'mql') AS median_days_lead_to_mql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'mql_to_sql') AS median_days_mql_to_sql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'sql_to_opportunity') AS median_days_sql_to_opportunity,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'opportunity_to_customer') AS median_days_opportunity_to_customer
    FROM transitions
    WHERE from_at IS NOT NULL
    GROUP BY GROUPING SETS ((month, channel), (month))
),

per_channel AS (
    SELECT c.month, COALESCE(c.channel, 'all') AS channel,
           c.new_leads, c.mqls,
           c.lead_to_mql, m.median_days_lead_to_mql,
           c.mql_to_sql, m.median_days_mql_to_sql,
           c.sql_to_opportunity, m.median_days_sql_to_opportunity,
           c.opportunity_to_customer, m.median_days_opportunity_to_customer
    FROM counts c
    LEFT JOIN medians m ON m.month = c.month AND m.rollup = c.rollup AND m.channel IS NOT DISTINCT FROM c.channel
),

with_baseline AS (
    SELECT cur.*, COALESCE(prev.mqls, 0) AS prior_month_mqls
    FROM per_channel cur
    LEFT JOIN per_channel prev
           ON prev.channel = cur.channel AND prev.month = (cur.month - interval '1 month')::date
    WHERE cur.month >= %(lo)s
    UNION ALL
    -- a month with no activity at all after one with MQLs still has a (falling) velocity
    SELECT (prev.month + interval '1 month')::date, prev.channel, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0, NULL, prev.mqls
    FROM per_channel prev
    WHERE prev.mqls > 0
      AND (prev.month + interval '1 month')::date >= %(lo)s AND (prev.month + interval '1 month')::date < %(hi)s
      -- never a month that has not begun at the build's moment
      AND (prev.month + interval '1 month')::date <= (%(as_of)s::timestamptz AT TIME ZONE %(tz)s)::date
      AND NOT EXISTS (SELECT 1 FROM per_channel cur
                      WHERE cur.channel = prev.channel AND cur.month = (prev.month + interval '1 month')::date)
)

SELECT month, channel, new_leads, mqls, prior_month_mqls,
       round((mqls - prior_month_mqls)::numeric / NULLIF(prior_month_mqls, 0), 4) AS lead_velocity_rate,
       lead_to_mql, round(median_days_lead_to_mql::numeric, 2) AS median_days_lead_to_mql,
       mql_to_sql, round(median_days_mql_to_sql::numeric, 2) AS median_days_mql_to_sql,
       sql_to_opportunity, round(median_days_sql_to_opportunity::numeric, 2) AS median_days_sql_to_opportunity,
       opportunity_to_customer,
       round(median_days_opportunity_to_customer::numeric, 2) AS median_days_opportunity_to_customer
FROM with_baseline
