-- Quarantined copies of the person's records, and the holds they keep on landed records.
WITH gone AS (
    DELETE FROM dq.quarantine q USING _erase_records e
    WHERE q.source_system = e.source_system
      AND (q.table_name = 'raw.leads' AND q.source_id = e.source_id
           OR q.table_name <> 'raw.leads' AND (q.payload->>'lead_source_id') = e.source_id)
    RETURNING q.table_name, q.batch_id, q.record_no
), unheld AS (
    DELETE FROM dq.held_records h USING gone g
    WHERE (h.table_name, h.batch_id, h.record_no) = (g.table_name, g.batch_id, g.record_no)
)
SELECT count(*) FROM gone
