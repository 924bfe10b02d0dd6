-- The source records of the person, whose normalised addresses hash to one of %(hashes)s: records that
-- carry the address (landed or folded), every record of the leads they belong to, and the records
-- merged into or surviving any of them (core.lead_merges), so merged aliases go too.
CREATE TEMP TABLE _erase_records ON COMMIT DROP AS
WITH carrying AS (
    SELECT source_system, source_id FROM raw.leads
    WHERE ops.sha256_hex(lower(btrim(payload->>'email'))) = ANY(%(hashes)s)
    UNION
    SELECT source_system, source_id FROM core.lead_sources
    WHERE ops.sha256_hex(lower(btrim(record->>'email'))) = ANY(%(hashes)s)
),
leads AS (
    SELECT ls.lead_id FROM core.lead_sources ls JOIN carrying USING (source_system, source_id)
    UNION
    SELECT lead_id FROM core.leads WHERE ops.sha256_hex(email_normalized) = ANY(%(hashes)s)
),
of_leads AS (
    SELECT source_system, source_id FROM carrying
    UNION
    SELECT ls.source_system, ls.source_id FROM core.lead_sources ls JOIN leads USING (lead_id)
)
SELECT source_system, source_id FROM of_leads
UNION
SELECT m.source_system, m.source_id FROM core.lead_merges m
JOIN of_leads o ON o.source_system = m.source_system AND o.source_id = m.survivor_source_id
UNION
SELECT m.source_system, m.survivor_source_id FROM core.lead_merges m
JOIN of_leads o ON o.source_system = m.source_system AND o.source_id = m.source_id
