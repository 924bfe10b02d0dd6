-- KPI tables for the monthly sales and marketing review. One SQL model per table builds each of them
-- (sql/kpi/<table>.sql, smarketing.kpi.build); docs/kpi.md defines every metric in plain words.
-- Every table and column carries a COMMENT: BI tools show it to the teams. No table here holds an
-- e-mail address, a name or free text about a person: leads appear only as counts, owners by their id.
-- Empty dimension values read 'unknown' (a key column is never NULL, so totals add up in any BI tool).
-- Months and days are calendar periods in the organisation's time zone (organization.timezone).

-- ---------------------------------------------------------------------------------------------
-- Build state: how far each KPI table has folded its inputs in (ops, not readable by kpi_reader)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE ops.kpi_state (
    table_name      text        PRIMARY KEY,
    watermark       jsonb       NOT NULL,
    as_of           timestamptz NOT NULL,
    periods         integer     NOT NULL,
    mode            text        NOT NULL CHECK (mode IN ('full', 'incremental')),
    built_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.kpi_state IS 'How far each kpi.* table has been built: the input watermarks its last build covered (advanced in the transaction of its last period).';
COMMENT ON COLUMN ops.kpi_state.table_name IS 'KPI table (kpi.<name>).';
COMMENT ON COLUMN ops.kpi_state.watermark IS 'Inputs covered: the highest raw batch folded into core per object, and the wall-clock start of the build (scoring runs, SLA readings, quality results and nurture changes after it are new).';
COMMENT ON COLUMN ops.kpi_state.as_of IS 'Moment the last build measured at (its run''s data-interval end).';
COMMENT ON COLUMN ops.kpi_state.periods IS 'Months the last build rewrote.';
COMMENT ON COLUMN ops.kpi_state.mode IS 'full (every period rewritten) or incremental (only the periods touched since the watermark).';
COMMENT ON COLUMN ops.kpi_state.built_at IS 'When the last build of the table committed.';

-- One spelling per dimension value: lower case, words joined by "_" (Paid Search, paid-search -> paid_search).
CREATE FUNCTION ops.kpi_slug(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(NULLIF(btrim(regexp_replace(lower(btrim(value)), '[^a-z0-9]+', '_', 'g'), '_'), ''), 'unknown')
$$;
COMMENT ON FUNCTION ops.kpi_slug(text) IS 'A dimension value normalised for KPIs: lower case, runs of other characters as "_", empty as unknown.';

-- The channel a lead came through, from what the source says (source/medium fields a mapping keeps
-- under attributes); 'unknown' when it says nothing.
CREATE FUNCTION ops.kpi_lead_channel(attributes jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ops.kpi_slug(COALESCE(
        NULLIF(btrim(attributes->>'channel'), ''),
        NULLIF(btrim(attributes->>'utm_medium'), ''),
        NULLIF(btrim(attributes->>'hs_analytics_source'), ''),
        NULLIF(btrim(attributes->>'lead_source'), ''),
        NULLIF(btrim(attributes->>'origin'), ''),
        NULLIF(btrim(attributes->>'utm_source'), ''),
        NULLIF(btrim(attributes->>'source'), '')))
$$;
COMMENT ON FUNCTION ops.kpi_lead_channel(jsonb) IS 'Channel of a lead: attributes channel, utm_medium, hs_analytics_source, lead_source, origin, utm_source or source (the first given), normalised; unknown otherwise.';

-- The channel of one marketing touch: its own source/medium when the source gives one, else the family
-- of the interaction.
CREATE FUNCTION ops.kpi_touch_channel(event_type text, attributes jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN COALESCE(NULLIF(btrim(attributes->>'channel'), ''), NULLIF(btrim(attributes->>'utm_medium'), ''),
                      NULLIF(btrim(attributes->>'utm_source'), '')) IS NOT NULL
        THEN ops.kpi_slug(COALESCE(NULLIF(btrim(attributes->>'channel'), ''), NULLIF(btrim(attributes->>'utm_medium'), ''),
                                   NULLIF(btrim(attributes->>'utm_source'), '')))
        ELSE CASE
            WHEN event_type IN ('email_sent', 'email_open', 'email_click', 'bounce', 'unsubscribe', 'newsletter_signup') THEN 'email'
            WHEN event_type = 'ad_click' THEN 'paid_ads'
            WHEN event_type = 'social_engagement' THEN 'social'
            WHEN event_type IN ('webinar_registered', 'webinar_attended', 'event_attended') THEN 'events'
            WHEN event_type IN ('form_submission', 'demo_request', 'content_download') THEN 'web_forms'
            ELSE 'web'
        END
    END
$$;
COMMENT ON FUNCTION ops.kpi_touch_channel(text, jsonb) IS 'Channel of a marketing touch: attributes channel, utm_medium or utm_source when given (normalised), else the family of the event type (email, paid_ads, social, events, web_forms, web).';

-- ---------------------------------------------------------------------------------------------
-- Funnel
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.funnel_daily (
    day               date           NOT NULL,
    channel           text           NOT NULL,
    persona           text           NOT NULL,
    country           text           NOT NULL,
    industry          text           NOT NULL,
    owner_id          text           NOT NULL,
    team              text           NOT NULL,
    new_leads         integer        NOT NULL,
    mqls              integer        NOT NULL,
    sqls              integer        NOT NULL,
    opportunities     integer        NOT NULL,
    won_deals         integer        NOT NULL,
    won_revenue       numeric(18, 2) NOT NULL,
    pipeline_created  numeric(18, 2) NOT NULL,
    PRIMARY KEY (day, channel, persona, country, industry, owner_id, team)
);
COMMENT ON TABLE kpi.funnel_daily IS 'The funnel per day and lead dimensions: leads created, MQLs, SQLs, opportunities opened, deals won and their revenue, pipeline created. A lead counts on the day it reached each step, once per step.';
COMMENT ON COLUMN kpi.funnel_daily.day IS 'Calendar day (organisation time zone).';
COMMENT ON COLUMN kpi.funnel_daily.new_leads IS 'Leads created that day.';
COMMENT ON COLUMN kpi.funnel_daily.mqls IS 'Leads handed over to sales that day: their first MQL moment (CRM MQL stage or scoring crossing, whichever came first).';
COMMENT ON COLUMN kpi.funnel_daily.sqls IS 'Leads that first entered an SQL stage (vocabulary.sql_stages) that day, MQL or not.';
COMMENT ON COLUMN kpi.funnel_daily.opportunities IS 'Deals opened that day.';
COMMENT ON COLUMN kpi.funnel_daily.won_deals IS 'Deals closed won that day.';
COMMENT ON COLUMN kpi.funnel_daily.won_revenue IS 'Amount of the deals closed won that day (reporting currency).';
COMMENT ON COLUMN kpi.funnel_daily.pipeline_created IS 'Amount of the deals opened that day (reporting currency).';

CREATE TABLE kpi.funnel_monthly (LIKE kpi.funnel_daily INCLUDING ALL);
ALTER TABLE kpi.funnel_monthly RENAME COLUMN day TO month;
COMMENT ON TABLE kpi.funnel_monthly IS 'The funnel per month and lead dimensions: kpi.funnel_daily summed over the month.';
COMMENT ON COLUMN kpi.funnel_monthly.month IS 'First day of the month (organisation time zone).';
COMMENT ON COLUMN kpi.funnel_monthly.new_leads IS 'Leads created in the month.';
COMMENT ON COLUMN kpi.funnel_monthly.mqls IS 'Leads handed over to sales in the month (first MQL moment).';
COMMENT ON COLUMN kpi.funnel_monthly.sqls IS 'Leads that first entered an SQL stage in the month.';
COMMENT ON COLUMN kpi.funnel_monthly.opportunities IS 'Deals opened in the month.';
COMMENT ON COLUMN kpi.funnel_monthly.won_deals IS 'Deals closed won in the month.';
COMMENT ON COLUMN kpi.funnel_monthly.won_revenue IS 'Amount of the deals closed won in the month.';
COMMENT ON COLUMN kpi.funnel_monthly.pipeline_created IS 'Amount of the deals opened in the month.';

-- ---------------------------------------------------------------------------------------------
-- Cohorts and velocity
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.conversion_cohorts (
    cohort_kind        text           NOT NULL CHECK (cohort_kind IN ('mql_month', 'created_month')),
    cohort_month       date           NOT NULL,
    channel            text           NOT NULL,
    persona            text           NOT NULL,
    country            text           NOT NULL,
    industry           text           NOT NULL,
    leads              integer        NOT NULL,
    mqls               integer        NOT NULL,
    sqls               integer        NOT NULL,
    won                integer        NOT NULL,
    won_revenue        numeric(18, 2) NOT NULL,
    mql_to_sql_rate    numeric(7, 4),
    sql_to_won_rate    numeric(7, 4),
    mql_to_won_rate    numeric(7, 4),
    median_days_to_mql numeric(10, 2),
    p75_days_to_mql    numeric(10, 2),
    median_days_to_sql numeric(10, 2),
    p75_days_to_sql    numeric(10, 2),
    median_days_to_won numeric(10, 2),
    p75_days_to_won    numeric(10, 2),
    open_until         date           NOT NULL,
    is_open            boolean        NOT NULL,
    PRIMARY KEY (cohort_kind, cohort_month, channel, persona, country, industry)
);
COMMENT ON TABLE kpi.conversion_cohorts IS 'Conversion counted on the cohort: leads grouped by the month they became MQL (or were created), and what they went on to do whenever it happened (a lead converting in March counts for its January cohort).';
COMMENT ON COLUMN kpi.conversion_cohorts.cohort_kind IS 'mql_month: cohort of the month of the first MQL moment; created_month: cohort of the month the lead was created.';
COMMENT ON COLUMN kpi.conversion_cohorts.cohort_month IS 'First day of the cohort''s month.';
COMMENT ON COLUMN kpi.conversion_cohorts.leads IS 'Leads in the cohort.';
COMMENT ON COLUMN kpi.conversion_cohorts.mqls IS 'Leads of the cohort that became MQL (all of them in an mql_month cohort).';
COMMENT ON COLUMN kpi.conversion_cohorts.sqls IS 'Leads of the cohort that entered an SQL stage (MQL first or not).';
COMMENT ON COLUMN kpi.conversion_cohorts.won IS 'Leads of the cohort with at least one won deal.';
COMMENT ON COLUMN kpi.conversion_cohorts.won_revenue IS 'Amount of the won deals of the cohort''s leads.';
COMMENT ON COLUMN kpi.conversion_cohorts.mql_to_sql_rate IS 'Share of the cohort''s MQLs that entered an SQL stage; empty without MQLs.';
COMMENT ON COLUMN kpi.conversion_cohorts.sql_to_won_rate IS 'Share of the cohort''s SQLs with a won deal; empty without SQLs.';
COMMENT ON COLUMN kpi.conversion_cohorts.mql_to_won_rate IS 'Share of the cohort''s MQLs with a won deal; empty without MQLs.';
COMMENT ON COLUMN kpi.conversion_cohorts.median_days_to_mql IS 'Median days from creation to the first MQL moment (created_month cohorts only).';
COMMENT ON COLUMN kpi.conversion_cohorts.p75_days_to_mql IS '75th percentile of the days from creation to the first MQL moment (created_month cohorts only).';
COMMENT ON COLUMN kpi.conversion_cohorts.median_days_to_sql IS 'Median days from the cohort''s start (MQL moment or creation) to the first SQL stage.';
COMMENT ON COLUMN kpi.conversion_cohorts.p75_days_to_sql IS '75th percentile of the days from the cohort''s start to the first SQL stage.';
COMMENT ON COLUMN kpi.conversion_cohorts.median_days_to_won IS 'Median days from the cohort''s start to the first won deal''s close.';
COMMENT ON COLUMN kpi.conversion_cohorts.p75_days_to_won IS '75th percentile of the days from the cohort''s start to the first won deal''s close.';
COMMENT ON COLUMN kpi.conversion_cohorts.open_until IS 'Last day a lead of the cohort can still convert and count: the end of the cohort month plus the agreed horizon.';
COMMENT ON COLUMN kpi.conversion_cohorts.is_open IS 'True while the cohort can still convert at the moment of the build (open_until not passed): its rates may still rise.';

CREATE TABLE kpi.velocity_monthly (
    month                               date           NOT NULL,
    channel                             text           NOT NULL,
    new_leads                           integer        NOT NULL,
    mqls                                integer        NOT NULL,
    prior_month_mqls                    integer        NOT NULL,
    lead_velocity_rate                  numeric(10, 4),
    lead_to_mql                         integer        NOT NULL,
    median_days_lead_to_mql             numeric(10, 2),
    mql_to_sql                          integer        NOT NULL,
    median_days_mql_to_sql              numeric(10, 2),
    sql_to_opportunity                  integer        NOT NULL,
    median_days_sql_to_opportunity      numeric(10, 2),
    opportunity_to_customer             integer        NOT NULL,
    median_days_opportunity_to_customer numeric(10, 2),
    PRIMARY KEY (month, channel)
);
COMMENT ON TABLE kpi.velocity_monthly IS 'How fast leads move: median days between consecutive funnel stages (counted in the month the later stage was reached), and the lead velocity rate (MQL growth month on month). channel "all" is the whole funnel.';
COMMENT ON COLUMN kpi.velocity_monthly.month IS 'First day of the month.';
COMMENT ON COLUMN kpi.velocity_monthly.channel IS 'Channel of the lead, or "all" for every channel together.';
COMMENT ON COLUMN kpi.velocity_monthly.new_leads IS 'Leads created in the month.';
COMMENT ON COLUMN kpi.velocity_monthly.mqls IS 'Leads handed over (first MQL moment) in the month.';
COMMENT ON COLUMN kpi.velocity_monthly.prior_month_mqls IS 'Leads handed over in the month before.';
COMMENT ON COLUMN kpi.velocity_monthly.lead_velocity_rate IS 'MQL growth: (mqls - prior_month_mqls) / prior_month_mqls; empty when the month before had none.';
COMMENT ON COLUMN kpi.velocity_monthly.lead_to_mql IS 'Leads that became MQL in the month (the transitions behind the median).';
COMMENT ON COLUMN kpi.velocity_monthly.median_days_lead_to_mql IS 'Median days from creation to the MQL moment, for leads that became MQL in the month.';
COMMENT ON COLUMN kpi.velocity_monthly.mql_to_sql IS 'MQLs that entered an SQL stage in the month (a lead that skipped the MQL stage is not counted here).';
COMMENT ON COLUMN kpi.velocity_monthly.median_days_mql_to_sql IS 'Median days from the MQL moment to the SQL stage.';
COMMENT ON COLUMN kpi.velocity_monthly.sql_to_opportunity IS 'SQLs whose first opportunity (deal opened or opportunity stage) came in the month.';
COMMENT ON COLUMN kpi.velocity_monthly.median_days_sql_to_opportunity IS 'Median days from the SQL stage to the first opportunity.';
COMMENT ON COLUMN kpi.velocity_monthly.opportunity_to_customer IS 'Leads with an opportunity that became customers (first won deal or customer stage) in the month.';
COMMENT ON COLUMN kpi.velocity_monthly.median_days_opportunity_to_customer IS 'Median days from the first opportunity to becoming a customer.';

-- ---------------------------------------------------------------------------------------------
-- Attribution
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.attribution_monthly (
    month            date           NOT NULL,
    model            text           NOT NULL CHECK (model IN ('first_touch', 'last_touch', 'linear', 'w_shaped')),
    channel          text           NOT NULL,
    campaign_id      text           NOT NULL,
    opportunities    numeric(14, 4) NOT NULL,
    pipeline_amount  numeric(18, 2) NOT NULL,
    won_deals        numeric(14, 4) NOT NULL,
    won_amount       numeric(18, 2) NOT NULL,
    PRIMARY KEY (month, model, channel, campaign_id)
);
COMMENT ON TABLE kpi.attribution_monthly IS 'Pipeline (deals opened in the month) and won revenue (deals won in the month) credited to the marketing touches of the deal''s lead before the deal opened, under four models. Every deal''s credit sums exactly to its amount (and to one deal) under each model; a deal without any touch is credited whole to "unattributed".';
COMMENT ON COLUMN kpi.attribution_monthly.month IS 'First day of the month the deal was opened (pipeline) or won (won columns).';
COMMENT ON COLUMN kpi.attribution_monthly.model IS 'first_touch (all to the first touch), last_touch (all to the last touch before the deal opened), linear (equal shares), w_shaped (30% each to the first touch, the lead-creation touch, the MQL touch and the opportunity touch; 10% shared by the others; shares of missing milestones spread over the rest).';
COMMENT ON COLUMN kpi.attribution_monthly.channel IS 'Channel of the credited touch (its source/medium, else its kind: email, paid_ads, social, events, web_forms, web); "unattributed" for deals without any touch.';
COMMENT ON COLUMN kpi.attribution_monthly.campaign_id IS 'Campaign of the credited touch; "none" for a touch outside any campaign, "unattributed" for deals without any touch.';
COMMENT ON COLUMN kpi.attribution_monthly.opportunities IS 'Deals opened in the month, as credited shares (a deal is 1 in total).';
COMMENT ON COLUMN kpi.attribution_monthly.pipeline_amount IS 'Amount of the deals opened in the month, as credited (reporting currency).';
COMMENT ON COLUMN kpi.attribution_monthly.won_deals IS 'Deals won in the month, as credited shares.';
COMMENT ON COLUMN kpi.attribution_monthly.won_amount IS 'Amount of the deals won in the month, as credited (reporting currency).';

-- ---------------------------------------------------------------------------------------------
-- SLA and marketing delivery
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.sla_compliance_monthly (
    month                     date           NOT NULL,
    owner_id                  text           NOT NULL,
    team                      text           NOT NULL,
    tier                      text           NOT NULL,
    handed_over               integer        NOT NULL,
    excluded                  integer        NOT NULL,
    due                       integer        NOT NULL,
    touched_on_time           integer        NOT NULL,
    touched_late              integer        NOT NULL,
    untouched_past_due        integer        NOT NULL,
    on_time_share             numeric(7, 4),
    median_minutes_to_touch   numeric(12, 2),
    p90_minutes_to_touch      numeric(12, 2),
    median_routing_minutes    numeric(12, 2),
    median_rep_minutes        numeric(12, 2),
    first_touch_breaches      integer        NOT NULL,
    accept_breaches           integer        NOT NULL,
    escalations               integer        NOT NULL,
    accepted                  integer        NOT NULL,
    rejected                  integer        NOT NULL,
    accept_due                integer        NOT NULL,
    decided_on_time           integer        NOT NULL,
    decided_on_time_share     numeric(7, 4),
    PRIMARY KEY (month, owner_id, team, tier)
);
COMMENT ON TABLE kpi.sla_compliance_monthly IS 'Sales'' side of the agreement per month of hand-over, owner, team and SLA tier: MQLs touched on time, business minutes to the first touch (routing vs rep delay), breaches, escalations, accept/reject decisions on time. Read from the SLA clocks (sla.followups, sla.breaches).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.month IS 'First day of the month the MQL was handed over.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.owner_id IS 'Sales owner id (core.owners.owner_id); unknown for MQLs nobody owns.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.team IS 'Sales team of the owner.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.tier IS 'SLA tier that applied (sla.sales.tiers).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.handed_over IS 'MQLs handed over.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.excluded IS 'Clocks stopped without a touch (disqualified, rejected or unsubscribed before due).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.due IS 'Clocks whose first touch was due by the clock reading: touched on time, touched late or untouched past due.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.touched_on_time IS 'Touched before the deadline ("on time": a qualifying touch within the tier''s business time).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.touched_late IS 'Touched after the deadline.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.untouched_past_due IS 'Not touched and past the deadline.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.on_time_share IS 'touched_on_time / due; empty when nothing was due yet.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.median_minutes_to_touch IS 'Median business minutes from hand-over to the first touch, over touched MQLs.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.p90_minutes_to_touch IS '90th percentile of the business minutes to the first touch.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.median_routing_minutes IS 'Median business minutes until an owner had the lead (routing delay).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.median_rep_minutes IS 'Median business minutes from the owner getting the lead to the first touch (rep delay).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.first_touch_breaches IS 'First-touch breaches recorded (sla.breaches).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.accept_breaches IS 'Accept/reject breaches recorded.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.escalations IS 'Breaches escalated to the owner''s manager.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.accepted IS 'MQLs sales accepted (entered an SQL stage).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.rejected IS 'MQLs sales rejected (recycled to nurturing or disqualified).';
COMMENT ON COLUMN kpi.sla_compliance_monthly.accept_due IS 'Accept/reject decisions due by the clock reading: decided on time, decided late or undecided past due.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.decided_on_time IS 'Accepted or rejected within the agreed business time.';
COMMENT ON COLUMN kpi.sla_compliance_monthly.decided_on_time_share IS 'decided_on_time / accept_due; empty when nothing was due.';

CREATE TABLE kpi.marketing_delivery_monthly (
    month             date           NOT NULL,
    segment           text           NOT NULL,
    target            integer        NOT NULL,
    delivered         integer        NOT NULL,
    accepted          integer        NOT NULL,
    attainment        numeric(8, 4)  NOT NULL,
    acceptance_rate   numeric(7, 4),
    expected_to_date  numeric(12, 2) NOT NULL,
    status            text           NOT NULL,
    PRIMARY KEY (month, segment)
);
COMMENT ON TABLE kpi.marketing_delivery_monthly IS 'Marketing''s side of the agreement: MQLs delivered per month and segment against the target (sla.marketing.mql_target), as the SLA pace last measured them.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.month IS 'First day of the month.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.segment IS 'Segment of the target: all, persona:<id>, country:<code> or industry:<name>.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.target IS 'Agreed MQLs for the month.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.delivered IS 'MQLs handed over in the month.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.accepted IS 'Of those, how many sales accepted (entered an SQL stage).';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.attainment IS 'delivered / target (1 = target met).';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.acceptance_rate IS 'accepted / delivered; empty when nothing was delivered.';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.expected_to_date IS 'MQLs expected by the reading at the agreed pace (target pro-rated by business time).';
COMMENT ON COLUMN kpi.marketing_delivery_monthly.status IS 'ahead, on_pace or behind while the month runs; met or missed once it is over.';

-- ---------------------------------------------------------------------------------------------
-- Engagement, score quality, nurturing, data quality
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.engagement_monthly (
    month                    date           NOT NULL,
    campaign_id              text           NOT NULL,
    content_topic            text           NOT NULL,
    engaged_leads            integer        NOT NULL,
    sends                    integer        NOT NULL,
    opens                    integer        NOT NULL,
    clicks                   integer        NOT NULL,
    form_submissions         integer        NOT NULL,
    demo_requests            integer        NOT NULL,
    downloads                integer        NOT NULL,
    webinar_registrations    integer        NOT NULL,
    webinar_attendance       integer        NOT NULL,
    unsubscribes             integer        NOT NULL,
    bounces                  integer        NOT NULL,
    open_rate                numeric(7, 4),
    click_rate               numeric(7, 4),
    click_to_open_rate       numeric(7, 4),
    unsubscribe_rate         numeric(7, 4),
    bounce_rate              numeric(7, 4),
    attendance_rate          numeric(7, 4),
    PRIMARY KEY (month, campaign_id, content_topic)
);
COMMENT ON TABLE kpi.engagement_monthly IS 'What marketing''s campaigns and content produced per month: e-mail sends, opens, clicks, forms, downloads, webinars, unsubscribes and bounces, with their rates. Counts are interactions (a lead opening twice counts twice), from core.marketing_events of live leads.';
COMMENT ON COLUMN kpi.engagement_monthly.month IS 'First day of the month the interactions happened.';
COMMENT ON COLUMN kpi.engagement_monthly.campaign_id IS 'Campaign or e-mail id; "none" for interactions outside any campaign.';
COMMENT ON COLUMN kpi.engagement_monthly.content_topic IS 'Topic of the content, page or form; "unknown" when the source gives none.';
COMMENT ON COLUMN kpi.engagement_monthly.engaged_leads IS 'Distinct leads with at least one interaction other than a send.';
COMMENT ON COLUMN kpi.engagement_monthly.sends IS 'Marketing e-mails delivered (email_sent).';
COMMENT ON COLUMN kpi.engagement_monthly.opens IS 'E-mail opens.';
COMMENT ON COLUMN kpi.engagement_monthly.clicks IS 'E-mail clicks.';
COMMENT ON COLUMN kpi.engagement_monthly.form_submissions IS 'Form submissions.';
COMMENT ON COLUMN kpi.engagement_monthly.demo_requests IS 'Demo or sales-call requests.';
COMMENT ON COLUMN kpi.engagement_monthly.downloads IS 'Content downloads.';
COMMENT ON COLUMN kpi.engagement_monthly.webinar_registrations IS 'Webinar registrations.';
COMMENT ON COLUMN kpi.engagement_monthly.webinar_attendance IS 'Webinar attendances.';
COMMENT ON COLUMN kpi.engagement_monthly.unsubscribes IS 'Unsubscriptions.';
COMMENT ON COLUMN kpi.engagement_monthly.bounces IS 'Bounced e-mails.';
COMMENT ON COLUMN kpi.engagement_monthly.open_rate IS 'opens / sends; empty without sends.';
COMMENT ON COLUMN kpi.engagement_monthly.click_rate IS 'clicks / sends; empty without sends.';
COMMENT ON COLUMN kpi.engagement_monthly.click_to_open_rate IS 'clicks / opens; empty without opens.';
COMMENT ON COLUMN kpi.engagement_monthly.unsubscribe_rate IS 'unsubscribes / sends; empty without sends.';
COMMENT ON COLUMN kpi.engagement_monthly.bounce_rate IS 'bounces / sends; empty without sends.';
COMMENT ON COLUMN kpi.engagement_monthly.attendance_rate IS 'webinar_attendance / webinar_registrations; empty without registrations.';

CREATE TABLE kpi.score_quality_monthly (
    model_version    text           NOT NULL,
    cohort_month     date           NOT NULL,
    slice_kind       text           NOT NULL CHECK (slice_kind IN ('all', 'score_band', 'grade')),
    slice            text           NOT NULL,
    handed_over      integer        NOT NULL,
    reached_sql      integer        NOT NULL,
    won              integer        NOT NULL,
    sql_rate         numeric(7, 4)  NOT NULL,
    won_rate         numeric(7, 4)  NOT NULL,
    auc_sql          numeric(7, 4),
    auc_won          numeric(7, 4),
    PRIMARY KEY (model_version, cohort_month, slice_kind, slice)
);
COMMENT ON TABLE kpi.score_quality_monthly IS 'Does the score still predict? Per scoring model version and month of MQL crossing: conversion by score band and grade at hand-over, and the AUC of the score at hand-over against the outcome. A falling AUC is the signal to recalibrate.';
COMMENT ON COLUMN kpi.score_quality_monthly.model_version IS 'Scoring model version that handed the leads over (scoring.mql_crossings).';
COMMENT ON COLUMN kpi.score_quality_monthly.cohort_month IS 'First day of the month of the MQL crossing.';
COMMENT ON COLUMN kpi.score_quality_monthly.slice_kind IS 'all (the whole cohort), score_band (score at hand-over in bands of 10 points) or grade (grade at hand-over).';
COMMENT ON COLUMN kpi.score_quality_monthly.slice IS 'The band ("60-69", ...), the grade ("A", ..., "none") or "all".';
COMMENT ON COLUMN kpi.score_quality_monthly.handed_over IS 'Leads handed over (MQL crossings) in the slice.';
COMMENT ON COLUMN kpi.score_quality_monthly.reached_sql IS 'Of those, how many entered an SQL stage afterwards.';
COMMENT ON COLUMN kpi.score_quality_monthly.won IS 'Of those, how many have a deal won after the crossing.';
COMMENT ON COLUMN kpi.score_quality_monthly.sql_rate IS 'reached_sql / handed_over.';
COMMENT ON COLUMN kpi.score_quality_monthly.won_rate IS 'won / handed_over.';
COMMENT ON COLUMN kpi.score_quality_monthly.auc_sql IS 'Probability that a lead that reached SQL had a higher score at hand-over than one that did not (ties count half); 0.5 = no better than chance. On the "all" row only; empty when either outcome is missing.';
COMMENT ON COLUMN kpi.score_quality_monthly.auc_won IS 'The same AUC against winning a deal.';

CREATE TABLE kpi.nurture_monthly (
    month            date           NOT NULL,
    scenario_id      text           NOT NULL,
    arm              text           NOT NULL CHECK (arm IN ('enrolled', 'held_out')),
    leads            integer        NOT NULL,
    exited           integer        NOT NULL,
    exits_by_reason  jsonb          NOT NULL,
    reached_mql      integer        NOT NULL,
    reached_sql      integer        NOT NULL,
    PRIMARY KEY (month, scenario_id, arm)
);
COMMENT ON TABLE kpi.nurture_monthly IS 'Nurturing per month of enrollment and scenario: leads enrolled (or held out as the control group), exits by reason, and how many later became MQL or SQL. Empty until the nurture ledger (nurture.enrollments) exists.';
COMMENT ON COLUMN kpi.nurture_monthly.month IS 'First day of the month the enrollment was planned.';
COMMENT ON COLUMN kpi.nurture_monthly.scenario_id IS 'Nurturing scenario (nurturing.scenarios[].id).';
COMMENT ON COLUMN kpi.nurture_monthly.arm IS 'enrolled (sent to the marketing tool) or held_out (the control group, left alone).';
COMMENT ON COLUMN kpi.nurture_monthly.leads IS 'Enrollments planned in the month in this arm.';
COMMENT ON COLUMN kpi.nurture_monthly.exited IS 'Of those, how many have exited the scenario.';
COMMENT ON COLUMN kpi.nurture_monthly.exits_by_reason IS 'Exits per reason, as {"<reason>": count}.';
COMMENT ON COLUMN kpi.nurture_monthly.reached_mql IS 'Of those, how many became MQL after the enrollment.';
COMMENT ON COLUMN kpi.nurture_monthly.reached_sql IS 'Of those, how many entered an SQL stage after the enrollment.';

CREATE TABLE kpi.data_quality_daily (
    day               date           NOT NULL,
    source_system     text           NOT NULL,
    table_name        text           NOT NULL,
    batches           integer        NOT NULL,
    batches_rejected  integer        NOT NULL,
    rows_checked      bigint         NOT NULL,
    checks_failed     integer        NOT NULL,
    rows_quarantined  bigint         NOT NULL,
    rows_released     bigint         NOT NULL,
    PRIMARY KEY (day, source_system, table_name)
);
COMMENT ON TABLE kpi.data_quality_daily IS 'Data quality per day, source and table: batches checked and rejected, records checked, checks failed, records quarantined and released (from dq.*).';
COMMENT ON COLUMN kpi.data_quality_daily.day IS 'Calendar day the checks ran (organisation time zone).';
COMMENT ON COLUMN kpi.data_quality_daily.source_system IS 'Source system; "all" for checks on a whole core table.';
COMMENT ON COLUMN kpi.data_quality_daily.table_name IS 'Table checked (raw.<object> or core.<table>).';
COMMENT ON COLUMN kpi.data_quality_daily.batches IS 'Landed batches the quality gate decided on.';
COMMENT ON COLUMN kpi.data_quality_daily.batches_rejected IS 'Of those, how many were rejected whole.';
COMMENT ON COLUMN kpi.data_quality_daily.rows_checked IS 'Records in the batches decided on.';
COMMENT ON COLUMN kpi.data_quality_daily.checks_failed IS 'Expectations that failed (critical or warning).';
COMMENT ON COLUMN kpi.data_quality_daily.rows_quarantined IS 'Records sent to quarantine.';
COMMENT ON COLUMN kpi.data_quality_daily.rows_released IS 'Quarantined records released (fixed or superseded).';

-- ---------------------------------------------------------------------------------------------
-- SMART goals
-- ---------------------------------------------------------------------------------------------
CREATE TABLE kpi.goals_progress (
    goal_id                text           NOT NULL,
    day                    date           NOT NULL,
    metric                 text           NOT NULL,
    segment                text           NOT NULL,
    target                 numeric(18, 4) NOT NULL,
    period_start           date           NOT NULL,
    period_end             date           NOT NULL,
    business_days_elapsed  integer        NOT NULL,
    business_days_total    integer        NOT NULL,
    actual_to_date         numeric(18, 4),
    expected_to_date       numeric(18, 4) NOT NULL,
    projected              numeric(18, 4),
    on_track               boolean,
    PRIMARY KEY (goal_id, day)
);
COMMENT ON TABLE kpi.goals_progress IS 'Each SMART goal of the agreement (goals:) per day of its period up to the build: actual to date, expected to date pro-rated by business days, projected at period end, on-track flag.';
COMMENT ON COLUMN kpi.goals_progress.goal_id IS 'Goal id (goals[].id).';
COMMENT ON COLUMN kpi.goals_progress.day IS 'Day of the goal''s period the figures are at (end of that day, organisation time zone).';
COMMENT ON COLUMN kpi.goals_progress.metric IS 'Metric of the goal (mql_count, sql_count, opportunity_count, won_deals, won_amount, pipeline_amount, mql_to_sql_rate, sql_to_won_rate, sla_compliance, median_first_touch_minutes).';
COMMENT ON COLUMN kpi.goals_progress.segment IS 'Segment the goal counts (persona:<id>, country:<code>, industry:<name>) or "all".';
COMMENT ON COLUMN kpi.goals_progress.target IS 'Target for the whole period.';
COMMENT ON COLUMN kpi.goals_progress.period_start IS 'First day of the goal (from).';
COMMENT ON COLUMN kpi.goals_progress.period_end IS 'Last day of the goal (to, included).';
COMMENT ON COLUMN kpi.goals_progress.business_days_elapsed IS 'Business days of the agreement''s calendar from period_start to this day, both included (weekends, public holidays and closed days do not count).';
COMMENT ON COLUMN kpi.goals_progress.business_days_total IS 'Business days in the whole period.';
COMMENT ON COLUMN kpi.goals_progress.actual_to_date IS 'The metric from period_start to the end of this day (counts and amounts summed; rates and medians over the period so far); empty when it is undefined yet (a rate without a denominator).';
COMMENT ON COLUMN kpi.goals_progress.expected_to_date IS 'Counts and amounts: target x business_days_elapsed / business_days_total. Rates and minutes: the target itself.';
COMMENT ON COLUMN kpi.goals_progress.projected IS 'Counts and amounts: actual_to_date x business_days_total / business_days_elapsed (empty before the first business day). Rates and minutes: actual_to_date.';
COMMENT ON COLUMN kpi.goals_progress.on_track IS 'Whether the actual meets the expected to date (for minutes: is at or below the target); empty when actual_to_date is.';

-- ---------------------------------------------------------------------------------------------
-- kpi_reader: the role exists since the foundation; it reads every kpi table (and nothing else).
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA kpi TO kpi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA kpi TO kpi_reader;

-- Dimension columns mean the same in every table: one comment text each.
DO $$
DECLARE
    c record;
    texts jsonb := jsonb_build_object(
        'channel', 'Channel the lead came through (normalised source/medium: attributes channel, utm_medium, hs_analytics_source, lead_source, origin, utm_source or source); unknown when the source says nothing.',
        'persona', 'Persona of the lead (personas[].id); unknown when none matched.',
        'country', 'Country of the lead (else of its company), upper case; unknown when neither is known.',
        'industry', 'Industry of the lead''s company (else of the deal''s company), normalised; unknown when not known.',
        'owner_id', 'Sales owner id (core.owners.owner_id, never a name); unknown for unowned leads.',
        'team', 'Sales team of the owner; unknown when not known.');
BEGIN
    FOR c IN
        SELECT t.relname AS table_name, a.attname AS column_name
        FROM pg_class t
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'kpi' AND t.relkind = 'r'
          AND a.attname IN ('channel', 'persona', 'country', 'industry', 'owner_id', 'team')
          AND col_description(t.oid, a.attnum) IS NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN kpi.%I.%I IS %L', c.table_name, c.column_name, texts->>c.column_name);
    END LOOP;
END $$;
