-- Landed records about the person (events, activities, stage changes, segment memberships).
DELETE FROM {table} r USING _erase_records e
WHERE r.source_system = e.source_system AND (r.payload->>'lead_source_id') = e.source_id
