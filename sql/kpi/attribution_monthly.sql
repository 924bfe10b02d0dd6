-- kpi.attribution_monthly: each deal's amount (and the deal itself, as 1) credited to the marketing touches
-- of its lead up to the moment it opened, under four models, summed by month: pipeline counts in the month
-- the deal opened, won revenue in the month it was won. The credits of each deal are kept in
-- ops.kpi_deal_credits (sql/kpi/attribution_credits.sql, run just before in the same transaction: how
-- a deal is credited, rounded, and why it sums exactly to its amount under every model).
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi
-- (Grouped under the "C" collation: the same groups, sorted by bytes instead of by locale rules.)
SELECT m.month, c.model COLLATE "C" AS model, c.channel COLLATE "C" AS channel,
       c.campaign_id COLLATE "C" AS campaign_id,
       sum(m.opportunities) AS opportunities, sum(m.pipeline_amount) AS pipeline_amount,
       sum(m.won_deals) AS won_deals, sum(m.won_amount) AS won_amount
FROM ops.kpi_deal_credits k
CROSS JOIN LATERAL unnest(k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits)
    AS c (model, channel, campaign_id, amount_credit, deal_credit)
CROSS JOIN LATERAL (VALUES
    (k.opened_month, c.deal_credit, c.amount_credit, 0, 0),
    (k.won_month, 0, 0, c.deal_credit, c.amount_credit)
) AS m (month, opportunities, pipeline_amount, won_deals, won_amount)
WHERE ((k.opened_month >= %(lo)s AND k.opened_month < %(hi)s) OR (k.won_month >= %(lo)s AND k.won_month < %(hi)s))
  AND m.month >= %(lo)s AND m.month < %(hi)s
GROUP BY 1, 2, 3, 4
