-- kpi.attribution_monthly from kept per-deal credits. Crediting a deal reads every touch of its lead; a
-- one-day refresh rewrites five months of deals of which a few hundred changed. The build keeps what each
-- deal was credited, with the inputs it was credited from, and sums a month's rows from here
-- (sql/kpi/attribution_credits.sql). A deal is credited again when its inputs differ from those kept, its
-- lead's touches or milestones changed, or the build rewrites everything; a deal missing here is credited
-- in the next build that rewrites one of its months, so an empty table only costs time: it is unlogged
-- (a crash empties it; writing it costs a full build no WAL). In ops: kpi_reader does not read it (it
-- holds lead ids and moments, no name and no e-mail).
CREATE UNLOGGED TABLE ops.kpi_deal_credits (
    deal_id          text        PRIMARY KEY,
    lead_id          bigint,
    amount           numeric     NOT NULL,
    opened_at        timestamptz,
    opened_month     date,
    won_month        date,
    lead_created_at  timestamptz,
    mql_at           timestamptz,
    models           text[]      NOT NULL,
    channels         text[]      NOT NULL,
    campaign_ids     text[]      NOT NULL,
    amount_credits   numeric[]   NOT NULL,
    deal_credits     numeric[]   NOT NULL
);
CREATE INDEX kpi_deal_credits_opened_idx ON ops.kpi_deal_credits (opened_month);
CREATE INDEX kpi_deal_credits_won_idx ON ops.kpi_deal_credits (won_month);
COMMENT ON TABLE ops.kpi_deal_credits IS 'Each live deal''s attribution credits as the last KPI build that rewrote one of its months computed them, with the inputs they came from; kpi.attribution_monthly sums them by month. A build internal: not read by kpi_reader.';
COMMENT ON COLUMN ops.kpi_deal_credits.deal_id IS 'Deal (core.deals.deal_id).';
COMMENT ON COLUMN ops.kpi_deal_credits.lead_id IS 'The deal''s lead when it was credited (NULL: none; the deal went whole to "unattributed").';
COMMENT ON COLUMN ops.kpi_deal_credits.amount IS 'The amount credited (0 when the deal has none).';
COMMENT ON COLUMN ops.kpi_deal_credits.opened_at IS 'The moment up to which touches count (the deal''s opening, else its win).';
COMMENT ON COLUMN ops.kpi_deal_credits.opened_month IS 'Month (organisation time zone) the deal opened: its pipeline credits count there.';
COMMENT ON COLUMN ops.kpi_deal_credits.won_month IS 'Month the deal was won (NULL: not won by the build''s moment): its won credits count there.';
COMMENT ON COLUMN ops.kpi_deal_credits.lead_created_at IS 'The lead''s creation (a W-shaped milestone) when the deal was credited.';
COMMENT ON COLUMN ops.kpi_deal_credits.mql_at IS 'The lead''s first MQL moment (a W-shaped milestone) when the deal was credited.';
COMMENT ON COLUMN ops.kpi_deal_credits.models IS 'Attribution model of each credit (first_touch, last_touch, linear, w_shaped); the arrays are parallel.';
COMMENT ON COLUMN ops.kpi_deal_credits.channels IS 'Channel of each credited touch ("unattributed": no touch).';
COMMENT ON COLUMN ops.kpi_deal_credits.campaign_ids IS 'Campaign of each credited touch.';
COMMENT ON COLUMN ops.kpi_deal_credits.amount_credits IS 'Amount credited to each touch: per model they sum to the deal''s amount.';
COMMENT ON COLUMN ops.kpi_deal_credits.deal_credits IS 'Share of the deal credited to each touch: per model they sum to one.';
