-- Per batch: its source system, its rows and how many of them are quarantined.
SELECT b.batch_id, b.source_system, b.row_count,
       (SELECT count(*) FROM dq.quarantine q WHERE q.table_name = %(t)s AND q.batch_id = b.batch_id)
FROM ops.load_batches b WHERE b.batch_id = ANY(%(ids)s)
