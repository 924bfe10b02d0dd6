-- kpi.attribution_monthly: each deal's amount (and the deal itself, as 1) credited to the marketing touches
-- of its lead up to the moment it opened, under four models. Pipeline counts in the month the deal
-- opened, won revenue in the month it was won. Credits are rounded to the cent (deals to 1/10,000) and
-- the touch with the largest share takes the rounding remainder, so every deal sums exactly to its
-- amount under every model. A deal without any touch goes whole to "unattributed".
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
WITH deals AS (
    SELECT d.deal_id, d.lead_id, d.amount, d.opened_at,
           date_trunc('month', d.created_at AT TIME ZONE %(tz)s)::date AS opened_month,
           date_trunc('month', d.won_at AT TIME ZONE %(tz)s)::date AS won_month,
           l.created_at AS lead_created_at, l.mql_at
    FROM _kpi_deals d
    LEFT JOIN _kpi_leads l ON l.lead_id = d.lead_id
    WHERE (d.created_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s) AND d.created_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s))
       OR (d.won_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s) AND d.won_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s))
),

-- interactions of the lead that show interest (a send, a bounce, an unsubscription or a points change is not a touch)
touches AS (
    SELECT d.deal_id, e.occurred_at,
           ops.kpi_touch_channel(e.event_type, e.attributes) AS channel,
           COALESCE(NULLIF(btrim(e.campaign_id), ''), 'none') AS campaign_id,
           row_number() OVER (PARTITION BY d.deal_id ORDER BY e.occurred_at, e.event_id) AS n,
           count(*) OVER (PARTITION BY d.deal_id) AS touches,
           d.lead_created_at, d.mql_at
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
),

-- the W-shaped milestones: first touch, the last touch by the lead's creation, by its MQL moment, and by
-- the deal's opening (the last touch of all)
milestones AS (
    SELECT t.*,
           max(n) FILTER (WHERE occurred_at <= lead_created_at) OVER (PARTITION BY deal_id) AS creation_n,
           max(n) FILTER (WHERE occurred_at <= mql_at) OVER (PARTITION BY deal_id) AS mql_n
    FROM touches t
),

roles AS (
    SELECT m.*,
           (n = 1)::int + COALESCE(n = creation_n, false)::int + COALESCE(n = mql_n, false)::int + (n = touches)::int
               AS role_count
    FROM milestones m
),

shared AS (
    SELECT r.*, count(*) FILTER (WHERE r.role_count = 0) OVER (PARTITION BY r.deal_id) AS others
    FROM roles r
),

weights AS (
    SELECT r.deal_id, r.n, r.channel, r.campaign_id, model.name AS model,
           CASE model.name
               WHEN 'first_touch' THEN (r.n = 1)::int::numeric
               WHEN 'last_touch' THEN (r.n = r.touches)::int::numeric
               WHEN 'linear' THEN 1::numeric
               -- 22.5 percent per milestone role held, 10 percent shared by the touches holding none
               ELSE 0.225 * r.role_count
                    + CASE WHEN r.role_count = 0 THEN 0.1 / r.others ELSE 0 END
           END AS weight
    FROM shared r
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('w_shaped')) AS model (name)
),

shares AS (
    SELECT w.*, d.amount, d.opened_month, d.won_month,
           w.weight / sum(w.weight) OVER (PARTITION BY w.deal_id, w.model) AS share,
           row_number() OVER (PARTITION BY w.deal_id, w.model ORDER BY w.weight DESC, w.n DESC) AS keeper
    FROM weights w
    JOIN deals d USING (deal_id)
    WHERE w.weight > 0
),

rounded AS (
    SELECT s.*, round(s.amount * s.share, 2) AS amount_part, round(s.share, 4) AS deal_part
    FROM shares s
),

credits AS (
    SELECT deal_id, model, channel, campaign_id, opened_month, won_month,
           CASE WHEN keeper = 1 THEN amount - (sum(amount_part) OVER per_deal - amount_part) ELSE amount_part END
               AS amount_credit,
           CASE WHEN keeper = 1 THEN 1 - (sum(deal_part) OVER per_deal - deal_part) ELSE deal_part END AS deal_credit
    FROM rounded
    WINDOW per_deal AS (PARTITION BY deal_id, model)
    UNION ALL
    SELECT d.deal_id, model.name, 'unattributed', 'unattributed', d.opened_month, d.won_month, d.amount, 1
    FROM deals d
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('w_shaped')) AS model (name)
    WHERE NOT EXISTS (SELECT 1 FROM touches t WHERE t.deal_id = d.deal_id)
),

by_month AS (
    SELECT opened_month AS month, model, channel, campaign_id,
           deal_credit AS opportunities, amount_credit AS pipeline_amount, 0 AS won_deals, 0 AS won_amount
    FROM credits WHERE opened_month >= %(lo)s AND opened_month < %(hi)s
    UNION ALL
    SELECT won_month, model, channel, campaign_id, 0, 0, deal_credit, amount_credit
    FROM credits WHERE won_month >= %(lo)s AND won_month < %(hi)s
)

SELECT month, model, channel, campaign_id,
       sum(opportunities) AS opportunities, sum(pipeline_amount) AS pipeline_amount,
       sum(won_deals) AS won_deals, sum(won_amount) AS won_amount
FROM by_month
GROUP BY month, model, channel, campaign_id
