-- The released records, copied into the new batch {batch} (numbered in their original order), so the
-- core build folds them like any new record; the quarantined originals stay out of core.
INSERT INTO raw.{obj} (batch_id, record_no, source_system, source_id, source_updated_at, payload)
SELECT {batch}, row_number() OVER (ORDER BY r.batch_id, r.record_no), r.source_system, r.source_id,
       r.source_updated_at, r.payload
FROM _dq_release x JOIN raw.{obj} r ON r.batch_id = x.batch_id AND r.record_no = x.record_no
