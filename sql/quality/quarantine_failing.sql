-- Quarantine the records whose keys are in _dq_failing: one row per record, every failed check listed.
-- A record quarantined before (a rerun) gets its current checks.
INSERT INTO dq.quarantine AS q (table_name, batch_id, record_no, source_system, source_id,
                                failed_checks, payload, run_id, validation_run_id, last_checked_run_id)
SELECT {table}, r.batch_id, r.record_no, r.source_system, r.source_id, f.checks, r.payload,
       {run}, {vr}, {run}
FROM (SELECT k1::bigint AS batch_id, k2::int AS record_no,
             array_agg(DISTINCT check_id ORDER BY check_id) AS checks
      FROM _dq_failing GROUP BY 1, 2) f
JOIN raw.{obj} r USING (batch_id, record_no)
ON CONFLICT (table_name, batch_id, record_no) DO UPDATE
   SET failed_checks = EXCLUDED.failed_checks, last_checked_run_id = EXCLUDED.last_checked_run_id,
       last_checked_at = now()
