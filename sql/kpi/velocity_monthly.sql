-- kpi.velocity_monthly: median days between consecutive funnel stages, counted in the month the later
-- stage was reached (only leads that reached both, the later one not before the earlier one), and the
-- lead velocity rate: MQLs of the month against the month before. Channel "all" is every lead.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
WITH transitions AS (
    SELECT l.channel, t.step, t.from_at, t.to_at,
           date_trunc('month', t.to_at AT TIME ZONE %(tz)s)::date AS month
    FROM _kpi_leads l
    CROSS JOIN LATERAL (VALUES
        ('new_lead', NULL::timestamptz, l.created_at),
        ('mql', NULL::timestamptz, l.mql_at),
        ('lead_to_mql', l.created_at, l.mql_at),
        ('mql_to_sql', l.mql_at, l.sql_at),
        ('sql_to_opportunity', l.sql_at, l.opportunity_at),
        ('opportunity_to_customer', l.opportunity_at, l.customer_at)
    ) AS t (step, from_at, to_at)
    WHERE t.to_at IS NOT NULL AND (t.from_at IS NULL OR t.from_at <= t.to_at) AND (t.step IN ('new_lead', 'mql') OR t.from_at IS NOT NULL)
      -- the month before the first one too: its MQLs are the first month's baseline
      AND t.to_at >= ((%(lo)s::date - interval '1 month')::timestamp AT TIME ZONE %(tz)s)
      AND t.to_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
),

per_channel AS (
    SELECT month, COALESCE(channel, 'all') AS channel,
           count(*) FILTER (WHERE step = 'new_lead') AS new_leads,
           count(*) FILTER (WHERE step = 'mql') AS mqls,
           count(*) FILTER (WHERE step = 'lead_to_mql') AS lead_to_mql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'lead_to_mql') AS median_days_lead_to_mql,
           count(*) FILTER (WHERE step = 'mql_to_sql') AS mql_to_sql,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'mql_to_sql') AS median_days_mql_to_sql,
           count(*) FILTER (WHERE step = 'sql_to_opportunity') AS sql_to_opportunity,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'sql_to_opportunity') AS median_days_sql_to_opportunity,
           count(*) FILTER (WHERE step = 'opportunity_to_customer') AS opportunity_to_customer,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM to_at - from_at) / 86400)
               FILTER (WHERE step = 'opportunity_to_customer') AS median_days_opportunity_to_customer
    FROM transitions
    GROUP BY GROUPING SETS ((month, channel), (month))
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
