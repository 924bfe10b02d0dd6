-- kpi.engagement_monthly by difference: what the engagement model counts of the changes taken from the log
-- (sql/kpi/engagement_monthly.sql with %(by_difference)s, months counted again left out) is added to the
-- rows of its months, the rates worked out again from the new counts. A group's row appears with its
-- first event. Only versions that came (+1) reach here: a month where one left is counted again
-- (smarketing.kpi.engagement). Appended to: INSERT INTO kpi.engagement_monthly (...) SELECT ... (`cur`: the row there)
ON CONFLICT (month, campaign_id, content_topic) DO UPDATE SET
    sends = cur.sends + EXCLUDED.sends,
    opens = cur.opens + EXCLUDED.opens,
    clicks = cur.clicks + EXCLUDED.clicks,
    form_submissions = cur.form_submissions + EXCLUDED.form_submissions,
    demo_requests = cur.demo_requests + EXCLUDED.demo_requests,
    downloads = cur.downloads + EXCLUDED.downloads,
    webinar_registrations = cur.webinar_registrations + EXCLUDED.webinar_registrations,
    webinar_attendance = cur.webinar_attendance + EXCLUDED.webinar_attendance,
    unsubscribes = cur.unsubscribes + EXCLUDED.unsubscribes,
    bounces = cur.bounces + EXCLUDED.bounces,
    open_rate = round((cur.opens + EXCLUDED.opens)::numeric / NULLIF(cur.sends + EXCLUDED.sends, 0), 4),
    click_rate = round((cur.clicks + EXCLUDED.clicks)::numeric / NULLIF(cur.sends + EXCLUDED.sends, 0), 4),
    click_to_open_rate = round((cur.clicks + EXCLUDED.clicks)::numeric / NULLIF(cur.opens + EXCLUDED.opens, 0), 4),
    unsubscribe_rate = round((cur.unsubscribes + EXCLUDED.unsubscribes)::numeric
                             / NULLIF(cur.sends + EXCLUDED.sends, 0), 4),
    bounce_rate = round((cur.bounces + EXCLUDED.bounces)::numeric / NULLIF(cur.sends + EXCLUDED.sends, 0), 4),
    attendance_rate = round((cur.webinar_attendance + EXCLUDED.webinar_attendance)::numeric
                            / NULLIF(cur.webinar_registrations + EXCLUDED.webinar_registrations, 0), 4)
