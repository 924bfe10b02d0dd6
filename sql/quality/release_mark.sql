-- The released records, marked with the run and the batch that re-landed them.
UPDATE dq.quarantine q
   SET status = 'released', release_reason = 'fixed', released_at = now(), released_run_id = {run},
       released_batch_id = {batch}, last_checked_run_id = {run}, last_checked_at = now()
  FROM _dq_release x
 WHERE q.table_name = {table} AND q.batch_id = x.batch_id AND q.record_no = x.record_no
