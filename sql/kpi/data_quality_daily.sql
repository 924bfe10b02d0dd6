-- kpi.data_quality_daily: the quality gate's work per day (organisation time zone), source and table:
-- batches decided and rejected (dq.batch_verdicts), expectations failed (dq.expectation_results), records
-- quarantined and released (dq.quarantine).
--   %(lo)s, %(hi)s  the days to build: lo <= day < hi; %(tz)s
WITH verdicts AS (
    SELECT (decided_at AT TIME ZONE %(tz)s)::date AS day, source_system, table_name,
           count(*) AS batches, count(*) FILTER (WHERE verdict = 'rejected') AS batches_rejected,
           sum(row_count) AS rows_checked, 0 AS checks_failed, 0 AS rows_quarantined, 0 AS rows_released
    FROM dq.batch_verdicts
    GROUP BY 1, 2, 3
),

failures AS (
    SELECT (r.finished_at AT TIME ZONE %(tz)s)::date AS day, COALESCE(NULLIF(e.source_system, ''), 'all'), e.suite,
           0, 0, 0, count(*) FILTER (WHERE NOT e.success), 0, 0
    FROM dq.expectation_results e
    JOIN dq.validation_runs r USING (validation_run_id)
    GROUP BY 1, 2, 3
),

quarantined AS (
    SELECT (quarantined_at AT TIME ZONE %(tz)s)::date, source_system, table_name, 0, 0, 0, 0, count(*), 0
    FROM dq.quarantine
    GROUP BY 1, 2, 3
),

released AS (
    SELECT (released_at AT TIME ZONE %(tz)s)::date, source_system, table_name, 0, 0, 0, 0, 0, count(*)
    FROM dq.quarantine
    WHERE released_at IS NOT NULL
    GROUP BY 1, 2, 3
),

activity AS (
    SELECT * FROM verdicts
    UNION ALL SELECT * FROM failures
    UNION ALL SELECT * FROM quarantined
    UNION ALL SELECT * FROM released
)

SELECT day, source_system, table_name,
       sum(batches) AS batches, sum(batches_rejected) AS batches_rejected, sum(rows_checked) AS rows_checked,
       sum(checks_failed) AS checks_failed, sum(rows_quarantined) AS rows_quarantined, sum(rows_released) AS rows_released
FROM activity
WHERE day >= %(lo)s AND day < %(hi)s
GROUP BY day, source_system, table_name
