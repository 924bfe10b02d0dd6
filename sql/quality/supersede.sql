-- Release the held records of one source that a newer accepted version of the same record replaces
-- (a later batch that passed or was admitted, and whose copy of the record is not held itself).
WITH newer AS (
    SELECT q.batch_id, q.record_no,
           (SELECT max(r.batch_id) FROM raw.{obj} r
            WHERE r.source_system = q.source_system AND r.source_id = q.source_id AND r.batch_id > q.batch_id
              AND EXISTS (SELECT 1 FROM dq.batch_verdicts v
                          WHERE v.batch_id = r.batch_id AND v.verdict IN ('passed', 'admitted'))
              AND NOT EXISTS (SELECT 1 FROM dq.quarantine h WHERE h.table_name = q.table_name
                              AND h.batch_id = r.batch_id AND h.record_no = r.record_no)) AS by_batch
    FROM dq.quarantine q
    WHERE q.table_name = {table} AND q.source_system = {src} AND q.status = 'held'
)
UPDATE dq.quarantine q
   SET status = 'released', release_reason = 'superseded', released_at = now(),
       released_run_id = {run}, released_batch_id = n.by_batch
  FROM newer n
 WHERE q.table_name = {table} AND q.batch_id = n.batch_id AND q.record_no = n.record_no
   AND n.by_batch IS NOT NULL
