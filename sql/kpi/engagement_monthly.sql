-- kpi.engagement_monthly: interactions with marketing per month, campaign and content topic (events of
-- leads live at the build's moment), and their rates.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
--   %(as_of)s       the build's moment: later interactions wait for a later build
WITH events AS (
    SELECT e.lead_id, e.event_type,
           date_trunc('month', e.occurred_at AT TIME ZONE %(tz)s)::date AS month,
           COALESCE(NULLIF(btrim(e.campaign_id), ''), 'none') AS campaign_id,
           ops.kpi_slug(e.content_topic) AS content_topic
    FROM core.marketing_events e
    JOIN _kpi_leads l USING (lead_id)
    WHERE e.occurred_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at <= %(as_of)s
),

counts AS (
    SELECT month, campaign_id, content_topic,
           count(DISTINCT lead_id) FILTER (WHERE event_type NOT IN ('email_sent', 'points_changed')) AS engaged_leads,
           count(*) FILTER (WHERE event_type = 'email_sent') AS sends,
           count(*) FILTER (WHERE event_type = 'email_open') AS opens,
           count(*) FILTER (WHERE event_type = 'email_click') AS clicks,
           count(*) FILTER (WHERE event_type = 'form_submission') AS form_submissions,
           count(*) FILTER (WHERE event_type = 'demo_request') AS demo_requests,
           count(*) FILTER (WHERE event_type = 'content_download') AS downloads,
           count(*) FILTER (WHERE event_type = 'webinar_registered') AS webinar_registrations,
           count(*) FILTER (WHERE event_type = 'webinar_attended') AS webinar_attendance,
           count(*) FILTER (WHERE event_type = 'unsubscribe') AS unsubscribes,
           count(*) FILTER (WHERE event_type = 'bounce') AS bounces
    FROM events
    GROUP BY month, campaign_id, content_topic
)

SELECT c.*,
       round(opens::numeric / NULLIF(sends, 0), 4) AS open_rate,
       round(clicks::numeric / NULLIF(sends, 0), 4) AS click_rate,
       round(clicks::numeric / NULLIF(opens, 0), 4) AS click_to_open_rate,
       round(unsubscribes::numeric / NULLIF(sends, 0), 4) AS unsubscribe_rate,
       round(bounces::numeric / NULLIF(sends, 0), 4) AS bounce_rate,
       round(webinar_attendance::numeric / NULLIF(webinar_registrations, 0), 4) AS attendance_rate
FROM counts c
