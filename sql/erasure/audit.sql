-- The audit row of this erasure (also the suppression list's anchor); a rerun adds what it found.
INSERT INTO ops.erasures AS x (email_sha256, requested_by, leads, source_records, rows_changed, at_source)
VALUES (%(email_sha256)s, %(requested_by)s, %(leads)s, %(records)s, %(rows)s, %(at_source)s)
ON CONFLICT (email_sha256) DO UPDATE
   SET leads = x.leads + EXCLUDED.leads, source_records = x.source_records + EXCLUDED.source_records,
       rows_changed = x.rows_changed || EXCLUDED.rows_changed, at_source = x.at_source || EXCLUDED.at_source
