-- Held records that failed their recheck keep waiting with the checks they fail now.
UPDATE dq.quarantine q SET failed_checks = f.checks, last_checked_run_id = {run}, last_checked_at = now()
FROM (SELECT k1::bigint AS batch_id, k2::int AS record_no, array_agg(DISTINCT check_id ORDER BY check_id) AS checks
      FROM _dq_failing GROUP BY 1, 2) f
WHERE q.table_name = {table} AND q.batch_id = f.batch_id AND q.record_no = f.record_no
