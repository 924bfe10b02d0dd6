-- kpi.attribution_monthly: each deal's amount (and the deal itself, as 1) credited to the marketing touches
-- of its lead up to the moment it opened, under four models, summed by month: pipeline counts in the month
-- the deal opened, won revenue in the month it was won. The credits of each deal are kept in
-- ops.kpi_deal_credits (sql/kpi/attribution_credits.sql, run just before in the same transaction: how
-- a deal is credited, rounded, and why it sums exactly to its amount under every model).
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi
-- Each deal's credits are read once per month side (its opening, its win) that falls in the range; the
-- sums skip the other side's credits instead of adding zeros. Grouped under the "C" collation: the same
-- groups, sorted by bytes instead of by locale rules.
SELECT m.month, c.model COLLATE "C" AS model, c.channel COLLATE "C" AS channel,
       c.campaign_id COLLATE "C" AS campaign_id,
       COALESCE(sum(c.deal_credit) FILTER (WHERE m.opened), 0) AS opportunities,
       COALESCE(sum(c.amount_credit) FILTER (WHERE m.opened), 0) AS pipeline_amount,
       COALESCE(sum(c.deal_credit) FILTER (WHERE NOT m.opened), 0) AS won_deals,
       COALESCE(sum(c.amount_credit) FILTER (WHERE NOT m.opened), 0) AS won_amount
FROM ops.kpi_deal_credits k
CROSS JOIN LATERAL (VALUES (k.opened_month, true), (k.won_month, false)) AS m (month, opened)
CROSS JOIN LATERAL unnest(k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits)
    AS c (model, channel, campaign_id, amount_credit, deal_credit)
WHERE ((k.opened_month >= %(lo)s AND k.opened_month < %(hi)s) OR (k.won_month >= %(lo)s AND k.won_month < %(hi)s))
  AND m.month >= %(lo)s AND m.month < %(hi)s
GROUP BY 1, 2, 3, 4
