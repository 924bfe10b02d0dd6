-- ops.kpi_deal_credits for the deals opened or won in the months built (%(lo)s <= month < %(hi)s): each
-- deal's amount (and the deal itself, as 1) credited to the marketing touches of its lead up to the moment
-- it opened, under four models. Credits are rounded to the cent (deals to 1/10,000) and the touch with the
-- largest share takes the rounding remainder, so every deal sums exactly to its amount under every model.
-- A deal without any touch goes whole to "unattributed". Run in the transaction that rewrites the months
-- (build.py), before attribution_monthly.sql sums them.
-- A deal is credited again when %(recompute)s (a full build, a rebuild from a day), when what it was
-- credited from (its lead, amount, months, opening, the lead's creation and MQL moment) differs from what
-- is kept or nothing is, or when its lead's touches or milestones changed since the table's watermark
-- (_kpi_recredit_leads, sql/kpi/changes.sql: a changed event moves only the deals opened after it). Kept
-- deals of the months no longer live are dropped.
-- The sums of the kept credits per month, side, model, channel and campaign (ops.kpi_credit_sums, migration
-- 0031: attribution_monthly.sql reads them) move with the credits that leave and come, a count of credits
-- beside each sum: a group's row leaves with its last credit. Both tables are unlogged and written here
-- only: a crash empties both; kept credits emptied alone (by hand) empty the sums first.
--   %(tz)s the organisation's zone
DROP TABLE IF EXISTS _kpi_credit_deals;

DELETE FROM ops.kpi_credit_sums WHERE NOT EXISTS (SELECT 1 FROM ops.kpi_deal_credits);

CREATE TEMP TABLE _kpi_credit_deals AS
WITH deals AS (
    SELECT d.deal_id, d.lead_id, d.amount, d.opened_at,
           date_trunc('month', d.created_at AT TIME ZONE %(tz)s)::date AS opened_month,
           date_trunc('month', d.won_at AT TIME ZONE %(tz)s)::date AS won_month,
           l.created_at AS lead_created_at, l.mql_at
    FROM _kpi_deals d
    LEFT JOIN _kpi_leads l ON l.lead_id = d.lead_id
    -- the months' first instants (ops.kpi_day_start): where the clock goes back after midnight on the 1st,
    -- the first of the two hours after midnight is that month's, as the deal's month says
    WHERE (d.created_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s) AND d.created_at < ops.kpi_day_start(%(hi)s::date, %(tz)s))
       OR (d.won_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s) AND d.won_at < ops.kpi_day_start(%(hi)s::date, %(tz)s))
)

SELECT d.*,
       %(recompute)s
       OR NOT EXISTS (
           SELECT 1 FROM ops.kpi_deal_credits k
           WHERE k.deal_id = d.deal_id AND k.lead_id IS NOT DISTINCT FROM d.lead_id AND k.amount = d.amount
             AND k.opened_at IS NOT DISTINCT FROM d.opened_at AND k.opened_month IS NOT DISTINCT FROM d.opened_month
             AND k.won_month IS NOT DISTINCT FROM d.won_month
             AND k.lead_created_at IS NOT DISTINCT FROM d.lead_created_at AND k.mql_at IS NOT DISTINCT FROM d.mql_at)
       OR EXISTS (
           SELECT 1 FROM _kpi_recredit_leads c
           WHERE c.lead_id = d.lead_id AND COALESCE(d.opened_at >= c.since, true)) AS stale
FROM deals d;

-- the credits that leave come off their sums (each kept deal's months, in the range or not)
WITH gone AS (
    DELETE FROM ops.kpi_deal_credits k
    WHERE ((k.opened_month >= %(lo)s AND k.opened_month < %(hi)s) OR (k.won_month >= %(lo)s AND k.won_month < %(hi)s)
           OR k.deal_id IN (SELECT deal_id FROM _kpi_credit_deals WHERE stale))
      AND NOT EXISTS (SELECT 1 FROM _kpi_credit_deals c WHERE c.deal_id = k.deal_id AND NOT c.stale)
    RETURNING k.opened_month, k.won_month, k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits
)
INSERT INTO ops.kpi_credit_sums AS s (month, opened, model, channel, campaign_id, credits, deal_credit, amount_credit)
SELECT m.month, m.opened, c.model, c.channel, c.campaign_id, -count(*), -sum(c.deal_credit), -sum(c.amount_credit)
FROM gone k
CROSS JOIN LATERAL (VALUES (k.opened_month, true), (k.won_month, false)) AS m (month, opened)
CROSS JOIN LATERAL unnest(k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits)
    AS c (model, channel, campaign_id, amount_credit, deal_credit)
WHERE m.month IS NOT NULL
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (month, opened, model, channel, campaign_id) DO UPDATE
    SET credits = s.credits + EXCLUDED.credits, deal_credit = s.deal_credit + EXCLUDED.deal_credit,
        amount_credit = s.amount_credit + EXCLUDED.amount_credit;

-- the credits of the deals credited again, kept and added to their sums
WITH deals AS (
    SELECT deal_id, lead_id, amount, opened_at, opened_month, won_month, lead_created_at, mql_at
    FROM _kpi_credit_deals WHERE stale
),

-- interactions of the lead that show interest (a send, a bounce, an unsubscription or a points change is
-- not a touch), numbered in time order; the deal's counts are taken in the same pass: the touches up to the
-- lead's creation (or its MQL moment) are the first k, so the last of them is touch k
touches AS (
    SELECT d.deal_id, d.amount, d.opened_month, d.won_month,
           ops.kpi_touch_channel(e.event_type, e.attributes) AS channel,
           COALESCE(NULLIF(btrim(e.campaign_id), ''), 'none') AS campaign_id,
           row_number() OVER ordered AS n,
           count(*) OVER per_deal AS touches,
           NULLIF(count(*) FILTER (WHERE e.occurred_at <= d.lead_created_at) OVER per_deal, 0) AS creation_n,
           NULLIF(count(*) FILTER (WHERE e.occurred_at <= d.mql_at) OVER per_deal, 0) AS mql_n
    FROM deals d
    -- the lead's own events through its index: the deals' leads are a small share of all leads, and their
    -- touches a small share of the events (OFFSET 0 keeps the planner from turning this into a scan of them all)
    CROSS JOIN LATERAL (
        SELECT e.event_id, e.event_type, e.occurred_at, e.campaign_id, e.attributes
        FROM core.marketing_events e
        WHERE e.lead_id = d.lead_id AND e.occurred_at <= d.opened_at
          AND e.event_type NOT IN ('email_sent', 'bounce', 'unsubscribe', 'points_changed')
        OFFSET 0
    ) e
    WINDOW per_deal AS (PARTITION BY d.deal_id),
           ordered AS (per_deal ORDER BY e.occurred_at, e.event_id)
),

-- The steps below are materialised: a CTE read inline has its expressions copied into every expression
-- that reads its columns, and each touch's shares (numeric divisions) were worked out up to eight times.

-- the W-shaped milestones: the first touch, the last touch by the lead's creation, by its MQL moment, and
-- by the deal's opening (the last of all); role_count = the milestones a touch holds, `others` = the
-- touches holding none (the touches less the distinct milestone positions)
roles AS MATERIALIZED (
    SELECT t.*,
           (n = 1)::int + COALESCE(n = creation_n, false)::int + COALESCE(n = mql_n, false)::int + (n = touches)::int
               AS role_count,
           touches - 1 - (touches <> 1)::int
               - COALESCE(creation_n NOT IN (1, touches), false)::int
               - COALESCE(mql_n NOT IN (1, touches) AND mql_n IS DISTINCT FROM creation_n, false)::int AS others
    FROM touches t
),

-- each model's share of the touch: weight / the deal's total weight (first and last touch: all of it)
shares AS MATERIALIZED (
    SELECT r.*,
           1::numeric / touches AS linear_share,
           -- 22.5 percent per milestone role held, 10 percent shared by the touches holding none; the total:
           -- every milestone present once, and `others` times the others' weight (numeric: exact sums)
           (0.225 * role_count + CASE WHEN role_count = 0 THEN 0.1 / others ELSE 0 END)
               / (0.225 * (2 + (creation_n IS NOT NULL)::int + (mql_n IS NOT NULL)::int)
                  + CASE WHEN others > 0 THEN others * (0.1 / others) ELSE 0 END) AS w_share
    FROM roles r
),

rounded AS MATERIALIZED (
    SELECT s.deal_id, s.amount, s.opened_month, s.won_month, s.channel, s.campaign_id, s.n, s.touches,
           s.role_count::bigint * 4294967296 + s.n AS w_rank,
           round(s.amount * s.linear_share, 2) AS linear_amount, round(s.linear_share, 4) AS linear_deal,
           round(s.amount * s.w_share, 2) AS w_amount, round(s.w_share, 4) AS w_deal
    FROM shares s
),

-- the touch with the largest share keeps each deal's rounding remainder (ties: the later touch)
remainders AS MATERIALIZED (
    SELECT r.*,
           sum(linear_amount) OVER per_deal AS linear_amount_sum, sum(linear_deal) OVER per_deal AS linear_deal_sum,
           sum(w_amount) OVER per_deal AS w_amount_sum, sum(w_deal) OVER per_deal AS w_deal_sum,
           max(w_rank) OVER per_deal AS w_keeper
    FROM rounded r
    WINDOW per_deal AS (PARTITION BY deal_id)
),

-- one scan of the touches per model (a list of the four models joined to every touch cost more); read
-- twice below (the kept arrays, the sums), worked out again each time: cheaper than storing its rows
credits AS NOT MATERIALIZED (
    SELECT deal_id, opened_month, won_month, 'first_touch' AS model, channel, campaign_id, amount AS amount_credit,
           1::numeric AS deal_credit
    FROM remainders
    WHERE n = 1
    UNION ALL
    SELECT deal_id, opened_month, won_month, 'last_touch', channel, campaign_id, amount, 1 FROM remainders WHERE n = touches
    UNION ALL
    SELECT deal_id, opened_month, won_month, 'linear', channel, campaign_id,
           CASE WHEN n = touches THEN amount - (linear_amount_sum - linear_amount) ELSE linear_amount END,
           CASE WHEN n = touches THEN 1 - (linear_deal_sum - linear_deal) ELSE linear_deal END
    FROM remainders
    UNION ALL
    SELECT deal_id, opened_month, won_month, 'w_shaped', channel, campaign_id,
           CASE WHEN w_rank = w_keeper THEN amount - (w_amount_sum - w_amount) ELSE w_amount END,
           CASE WHEN w_rank = w_keeper THEN 1 - (w_deal_sum - w_deal) ELSE w_deal END
    FROM remainders
    UNION ALL
    SELECT d.deal_id, d.opened_month, d.won_month, model.name, 'unattributed', 'unattributed', d.amount, 1
    FROM deals d
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('w_shaped')) AS model (name)
    WHERE NOT EXISTS (SELECT 1 FROM touches t WHERE t.deal_id = d.deal_id)
),

added AS (
    INSERT INTO ops.kpi_deal_credits (deal_id, lead_id, amount, opened_at, opened_month, won_month, lead_created_at,
                                      mql_at, models, channels, campaign_ids, amount_credits, deal_credits)
    SELECT d.deal_id, d.lead_id, d.amount, d.opened_at, d.opened_month, d.won_month, d.lead_created_at, d.mql_at,
           c.models, c.channels, c.campaign_ids, c.amount_credits, c.deal_credits
    FROM deals d
    JOIN (
        SELECT deal_id, array_agg(model) AS models, array_agg(channel) AS channels, array_agg(campaign_id) AS campaign_ids,
               array_agg(amount_credit) AS amount_credits, array_agg(deal_credit) AS deal_credits
        FROM credits
        GROUP BY deal_id
    ) c USING (deal_id)
),

-- the same credits summed per pair of months and group (the rows above, not the kept arrays unnested
-- again; a data-modifying CTE runs whether it is read or not), then per month side: each credit is
-- hashed once, not once per side
pairs AS (
    SELECT opened_month, won_month, model, channel, campaign_id, count(*) AS credits, sum(deal_credit) AS deal_credit,
           sum(amount_credit) AS amount_credit
    FROM credits
    GROUP BY 1, 2, 3, 4, 5
)

INSERT INTO ops.kpi_credit_sums AS s (month, opened, model, channel, campaign_id, credits, deal_credit, amount_credit)
SELECT m.month, m.opened, p.model, p.channel, p.campaign_id, sum(p.credits), sum(p.deal_credit), sum(p.amount_credit)
FROM pairs p
CROSS JOIN LATERAL (VALUES (p.opened_month, true), (p.won_month, false)) AS m (month, opened)
WHERE m.month IS NOT NULL
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (month, opened, model, channel, campaign_id) DO UPDATE
    SET credits = s.credits + EXCLUDED.credits, deal_credit = s.deal_credit + EXCLUDED.deal_credit,
        amount_credit = s.amount_credit + EXCLUDED.amount_credit;

-- a group whose last credit left
DELETE FROM ops.kpi_credit_sums WHERE credits = 0;

DROP TABLE _kpi_credit_deals;
