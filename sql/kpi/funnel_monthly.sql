-- kpi.funnel_monthly: kpi.funnel_daily summed over each month (built right after it, in the same build).
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi
WITH days AS (
    SELECT * FROM kpi.funnel_daily WHERE day >= %(lo)s AND day < %(hi)s
)

SELECT date_trunc('month', day)::date AS month, channel, persona, country, industry, owner_id, team,
       sum(new_leads) AS new_leads, sum(mqls) AS mqls, sum(sqls) AS sqls, sum(opportunities) AS opportunities,
       sum(won_deals) AS won_deals, sum(won_revenue) AS won_revenue, sum(pipeline_created) AS pipeline_created
FROM days
GROUP BY 1, channel, persona, country, industry, owner_id, team
