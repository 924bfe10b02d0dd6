-- kpi.attribution_monthly summed each month it rewrote from every kept deal credit of the month
-- (ops.kpi_deal_credits: a one-day refresh unnested the credits of the 3,600 deals of five months to rewrite
-- a few of them). The sums are kept instead, per month, side (the deal's opening or its win), model,
-- channel and campaign, and moved by the credits that leave and come as deals are credited again
-- (sql/kpi/attribution_credits.sql). `credits` counts the credits in a sum: a group's row leaves with its
-- last credit (a sum of zero can still be a row: a deal of amount 0). Invariant: the table is the sum of
-- ops.kpi_deal_credits, both written in the same transactions; unlogged like it, a crash empties both.
CREATE UNLOGGED TABLE ops.kpi_credit_sums (
    month         date    NOT NULL,
    opened        boolean NOT NULL,
    model         text    NOT NULL,
    channel       text    NOT NULL,
    campaign_id   text    NOT NULL,
    credits       bigint  NOT NULL,
    deal_credit   numeric NOT NULL,
    amount_credit numeric NOT NULL,
    PRIMARY KEY (month, opened, model, channel, campaign_id)
);
COMMENT ON TABLE ops.kpi_credit_sums IS 'The sums of the kept attribution credits (ops.kpi_deal_credits) per month, side, model, channel and campaign; kpi.attribution_monthly reads its months from them. A build internal: not read by kpi_reader.';
COMMENT ON COLUMN ops.kpi_credit_sums.month IS 'Month the deals opened (opened) or were won (not opened), organisation time zone.';
COMMENT ON COLUMN ops.kpi_credit_sums.opened IS 'true: pipeline credits (the month the deal opened); false: won credits (the month it was won).';
COMMENT ON COLUMN ops.kpi_credit_sums.model IS 'Attribution model (first_touch, last_touch, linear, w_shaped).';
COMMENT ON COLUMN ops.kpi_credit_sums.channel IS 'Channel of the credited touches ("unattributed": deals without any touch).';
COMMENT ON COLUMN ops.kpi_credit_sums.campaign_id IS 'Campaign of the credited touches.';
COMMENT ON COLUMN ops.kpi_credit_sums.credits IS 'Kept credits in the sums (the row leaves when none is left).';
COMMENT ON COLUMN ops.kpi_credit_sums.deal_credit IS 'Sum of the credited shares of deals.';
COMMENT ON COLUMN ops.kpi_credit_sums.amount_credit IS 'Sum of the credited amounts.';

INSERT INTO ops.kpi_credit_sums (month, opened, model, channel, campaign_id, credits, deal_credit, amount_credit)
SELECT m.month, m.opened, c.model, c.channel, c.campaign_id, count(*), sum(c.deal_credit), sum(c.amount_credit)
FROM ops.kpi_deal_credits k
CROSS JOIN LATERAL (VALUES (k.opened_month, true), (k.won_month, false)) AS m (month, opened)
CROSS JOIN LATERAL unnest(k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits)
    AS c (model, channel, campaign_id, amount_credit, deal_credit)
WHERE m.month IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
