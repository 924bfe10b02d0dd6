-- kpi.attribution_monthly: each deal's amount (and the deal itself, as 1) credited to the marketing touches
-- of its lead up to the moment it opened, under four models, summed by month: pipeline counts in the month
-- the deal opened, won revenue in the month it was won. The credits of each deal are kept in
-- ops.kpi_deal_credits and their sums per month, side (opened, won), model, channel and campaign in
-- ops.kpi_credit_sums (sql/kpi/attribution_credits.sql, run just before in the same transaction: how a deal
-- is credited, rounded, and why it sums exactly to its amount under every model; the sums move by
-- difference as deals are credited again). A group has a row in a month when a kept credit falls there.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi
-- Grouped under the "C" collation: the same groups, sorted by bytes instead of by locale rules.
SELECT s.month, s.model COLLATE "C" AS model, s.channel COLLATE "C" AS channel,
       s.campaign_id COLLATE "C" AS campaign_id,
       COALESCE(sum(s.deal_credit) FILTER (WHERE s.opened), 0) AS opportunities,
       COALESCE(sum(s.amount_credit) FILTER (WHERE s.opened), 0) AS pipeline_amount,
       COALESCE(sum(s.deal_credit) FILTER (WHERE NOT s.opened), 0) AS won_deals,
       COALESCE(sum(s.amount_credit) FILTER (WHERE NOT s.opened), 0) AS won_amount
FROM ops.kpi_credit_sums s
WHERE s.month >= %(lo)s AND s.month < %(hi)s
GROUP BY 1, 2, 3, 4
