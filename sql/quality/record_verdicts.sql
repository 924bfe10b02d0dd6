-- One verdict per batch (a JSON list of them): rejected when it has reasons, else passed.
-- A batch decided again (a rerun) gets the new verdict.
INSERT INTO dq.batch_verdicts (batch_id, table_name, source_system, verdict, row_count, quarantined_rows,
                               warnings, reasons, run_id, validation_run_id)
SELECT x.batch_id, %(t)s, x.source_system,
       CASE WHEN jsonb_array_length(x.reasons) > 0 THEN 'rejected' ELSE 'passed' END,
       x.row_count, x.quarantined, x.warnings, ARRAY(SELECT jsonb_array_elements_text(x.reasons)),
       %(run)s, %(vr)s
FROM jsonb_to_recordset(%(rows)s) AS x(batch_id bigint, source_system text, row_count bigint,
                                      quarantined bigint, warnings int, reasons jsonb)
ON CONFLICT (batch_id) DO UPDATE
   SET verdict = EXCLUDED.verdict, row_count = EXCLUDED.row_count, quarantined_rows = EXCLUDED.quarantined_rows,
       warnings = EXCLUDED.warnings, reasons = EXCLUDED.reasons, run_id = EXCLUDED.run_id,
       validation_run_id = EXCLUDED.validation_run_id, decided_at = now()
