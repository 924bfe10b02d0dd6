-- kpi.engagement_monthly: interactions with marketing per month, campaign and content topic (events of
-- leads live at the build's moment), and their rates.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
--   %(as_of)s       the build's moment: later interactions wait for a later build
--   %(by_difference)s  true: count only the changes the build took from the log (_kpi_event_delta, made
--                   by smarketing.kpi.engagement) outside the months in %(recounted)s, to be added to the
--                   table's rows (sql/kpi/engagement_delta.sql); false: count the events of the months
-- One pass over the events, on their stored values: each event finds its month by a binary search of the
-- months' first instants (width_bucket, no time zone conversion per event); a month begins at the first
-- instant of its first local day (ops.kpi_day_start, also the range's bounds), so an event's month is
-- its local date's also where the clock goes back after midnight. The counts are one hash aggregate over
-- plain columns (parallel when the build runs this as a plain SELECT; text keys in byte order, COLLATE
-- "C": the same groups, compared without asking the locale), and the events of the leads
-- deleted by the build's moment are counted apart through the lead index and taken off.
-- Campaign and topic names are normalised on the few groups left, not on every event.
WITH months AS NOT MATERIALIZED (
    SELECT m::date AS month, ops.kpi_day_start(m::date, %(tz)s) AS starts_at
    FROM generate_series(
        greatest(%(lo)s::date, (SELECT date_trunc('month', min(occurred_at) AT TIME ZONE %(tz)s)
                                FROM core.marketing_events)::date),
        -- one past the last month built: the upper bound of the last bucket
        least(%(hi)s::date, (date_trunc('month', %(as_of)s::timestamptz AT TIME ZONE %(tz)s) + interval '1 month')::date),
        interval '1 month'
    ) AS m
),

-- inlined, not materialised: a CTE scan would keep the events' scan from running in parallel
bounds AS NOT MATERIALIZED (
    SELECT array_agg(month ORDER BY month) AS months, array_agg(starts_at ORDER BY month) AS starts FROM months
),

gone_leads AS NOT MATERIALIZED (
    SELECT lead_id FROM core.leads WHERE deleted_at <= %(as_of)s
),

stored AS (
    SELECT width_bucket(e.occurred_at, (SELECT starts FROM bounds)) AS bucket, e.campaign_id COLLATE "C" AS campaign_id,
           e.content_topic COLLATE "C" AS content_topic, e.event_type COLLATE "C" AS event_type, count(*) AS n
    FROM core.marketing_events e
    -- the range as constants, for the planner's estimate; the months outside it fall in bucket 0 or past the last
    WHERE NOT %(by_difference)s
      AND e.occurred_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND e.occurred_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
      AND e.occurred_at <= %(as_of)s
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT width_bucket(e.occurred_at, (SELECT starts FROM bounds)), e.campaign_id, e.content_topic,
           e.event_type, -count(*)
    FROM gone_leads g
    JOIN core.marketing_events e ON e.lead_id = g.lead_id
    -- the range as constants, for the planner's estimate; the months outside it fall in bucket 0 or past the last
    WHERE NOT %(by_difference)s
      AND e.occurred_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND e.occurred_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
      AND e.occurred_at <= %(as_of)s
    GROUP BY 1, 2, 3, 4
    UNION ALL
    -- by difference: the versions taken from the log (+1 came, -1 left), of leads live at the build's moment
    SELECT width_bucket(d.occurred_at, (SELECT starts FROM bounds)), d.campaign_id, d.content_topic, d.event_type,
           sum(d.delta)
    FROM _kpi_event_delta d
    WHERE %(by_difference)s
      AND d.occurred_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND d.occurred_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
      AND d.occurred_at <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM gone_leads g WHERE g.lead_id = d.lead_id)
    GROUP BY 1, 2, 3, 4
),

counts AS (
    SELECT (SELECT months[bucket] FROM bounds) AS month, COALESCE(NULLIF(btrim(campaign_id), ''), 'none') AS campaign_id,
           ops.kpi_slug(content_topic) AS content_topic,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_sent'), 0) AS sends,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_open'), 0) AS opens,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_click'), 0) AS clicks,
           COALESCE(sum(n) FILTER (WHERE event_type = 'form_submission'), 0) AS form_submissions,
           COALESCE(sum(n) FILTER (WHERE event_type = 'demo_request'), 0) AS demo_requests,
           COALESCE(sum(n) FILTER (WHERE event_type = 'content_download'), 0) AS downloads,
           COALESCE(sum(n) FILTER (WHERE event_type = 'webinar_registered'), 0) AS webinar_registrations,
           COALESCE(sum(n) FILTER (WHERE event_type = 'webinar_attended'), 0) AS webinar_attendance,
           COALESCE(sum(n) FILTER (WHERE event_type = 'unsubscribe'), 0) AS unsubscribes,
           COALESCE(sum(n) FILTER (WHERE event_type = 'bounce'), 0) AS bounces
    FROM stored
    -- the months counted again hold these changes already
    WHERE NOT (%(by_difference)s AND (SELECT months[bucket] FROM bounds) = ANY(%(recounted)s::date[]))
    GROUP BY 1, 2, 3
    -- a group left with no event of a live lead is no row at all (a change adds at least one: only
    -- versions that came are added, sql/kpi/engagement_delta.sql)
    HAVING sum(n) > 0
)

SELECT c.*,
       round(opens::numeric / NULLIF(sends, 0), 4) AS open_rate,
       round(clicks::numeric / NULLIF(sends, 0), 4) AS click_rate,
       round(clicks::numeric / NULLIF(opens, 0), 4) AS click_to_open_rate,
       round(unsubscribes::numeric / NULLIF(sends, 0), 4) AS unsubscribe_rate,
       round(bounces::numeric / NULLIF(sends, 0), 4) AS bounce_rate,
       round(webinar_attendance::numeric / NULLIF(webinar_registrations, 0), 4) AS attendance_rate
FROM counts c
