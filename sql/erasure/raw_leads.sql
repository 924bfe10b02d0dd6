DELETE FROM raw.leads r USING _erase_records e
WHERE r.source_system = e.source_system AND r.source_id = e.source_id
