-- The records of the admitted batch {old} that are not quarantined, re-landed as batch {new}.
INSERT INTO raw.{obj} (batch_id, record_no, source_system, source_id, source_updated_at, payload)
SELECT {new}, r.record_no, r.source_system, r.source_id, r.source_updated_at, r.payload
FROM raw.{obj} r
WHERE r.batch_id = {old}
  AND NOT EXISTS (SELECT 1 FROM dq.quarantine q WHERE q.table_name = {table}
                  AND q.batch_id = r.batch_id AND q.record_no = r.record_no)
