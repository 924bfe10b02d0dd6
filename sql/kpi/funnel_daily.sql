-- kpi.funnel_daily: each lead counts once per funnel step, on the day (organisation time zone) it first
-- reached it; deals count on the day they opened (opportunities, pipeline) and the day they were won.
--   %(lo)s, %(hi)s  the days to build: lo <= day < hi
--   %(tz)s          the organisation's time zone
-- One scan of the staged table per step (a join of each lead with a list of its steps costs more), the
-- steps more than a day outside the range left out on their stored moment, each step's day converted
-- once, and the days outside the range dropped from the groups (OFFSET 0: not pushed into the scans).
WITH steps AS (
    SELECT channel, persona, country, industry, owner_id, team, 'new_lead' AS step, 0::numeric AS amount,
           created_at AS at
    FROM _kpi_leads
    UNION ALL
    SELECT channel, persona, country, industry, owner_id, team, 'mql', 0, mql_at FROM _kpi_leads
    UNION ALL
    SELECT channel, persona, country, industry, owner_id, team, 'sql', 0, sql_at FROM _kpi_leads
    UNION ALL
    SELECT channel, persona, country, industry, owner_id, team, 'opportunity', amount, created_at FROM _kpi_deals
    UNION ALL
    SELECT channel, persona, country, industry, owner_id, team, 'won', amount, won_at FROM _kpi_deals
),

days AS (
    SELECT (at AT TIME ZONE %(tz)s)::date AS day, channel, persona, country, industry, owner_id, team,
           count(*) FILTER (WHERE step = 'new_lead') AS new_leads,
           count(*) FILTER (WHERE step = 'mql') AS mqls,
           count(*) FILTER (WHERE step = 'sql') AS sqls,
           count(*) FILTER (WHERE step = 'opportunity') AS opportunities,
           count(*) FILTER (WHERE step = 'won') AS won_deals,
           COALESCE(sum(amount) FILTER (WHERE step = 'won'), 0) AS won_revenue,
           COALESCE(sum(amount) FILTER (WHERE step = 'opportunity'), 0) AS pipeline_created
    FROM steps
    -- no zone is more than a day from UTC
    WHERE at >= (%(lo)s::date - 1)::timestamp AT TIME ZONE 'UTC'
      AND at < (%(hi)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, channel, persona, country, industry, owner_id, team
    OFFSET 0
)

SELECT * FROM days WHERE day >= %(lo)s AND day < %(hi)s
