-- kpi.funnel_daily: each lead counts once per funnel step, on the day (organisation time zone) it first
-- reached it; deals count on the day they opened (opportunities, pipeline) and the day they were won.
--   %(lo)s, %(hi)s  the days to build: lo <= day < hi
--   %(tz)s          the organisation's time zone
WITH lead_steps AS (
    SELECT channel, persona, country, industry, owner_id, team, step, (at AT TIME ZONE %(tz)s)::date AS day
    FROM _kpi_leads
    CROSS JOIN LATERAL (VALUES ('new_lead', created_at), ('mql', mql_at), ('sql', sql_at)) AS s (step, at)
    WHERE at IS NOT NULL
),

deal_steps AS (
    SELECT channel, persona, country, industry, owner_id, team, step, amount, (at AT TIME ZONE %(tz)s)::date AS day
    FROM _kpi_deals
    CROSS JOIN LATERAL (VALUES ('opportunity', created_at), ('won', won_at)) AS s (step, at)
    WHERE at IS NOT NULL
),

steps AS (
    SELECT day, channel, persona, country, industry, owner_id, team, step, 0::numeric AS amount
    FROM lead_steps WHERE day >= %(lo)s AND day < %(hi)s
    UNION ALL
    SELECT day, channel, persona, country, industry, owner_id, team, step, amount
    FROM deal_steps WHERE day >= %(lo)s AND day < %(hi)s
)

SELECT day, channel, persona, country, industry, owner_id, team,
       count(*) FILTER (WHERE step = 'new_lead') AS new_leads,
       count(*) FILTER (WHERE step = 'mql') AS mqls,
       count(*) FILTER (WHERE step = 'sql') AS sqls,
       count(*) FILTER (WHERE step = 'opportunity') AS opportunities,
       count(*) FILTER (WHERE step = 'won') AS won_deals,
       COALESCE(sum(amount) FILTER (WHERE step = 'won'), 0) AS won_revenue,
       COALESCE(sum(amount) FILTER (WHERE step = 'opportunity'), 0) AS pipeline_created
FROM steps
GROUP BY day, channel, persona, country, industry, owner_id, team
