-- The warehouse leads of the person: those holding one of their records, or their address.
CREATE TEMP TABLE _erase_leads ON COMMIT DROP AS
SELECT ls.lead_id FROM core.lead_sources ls JOIN _erase_records USING (source_system, source_id)
UNION
SELECT lead_id FROM core.leads WHERE ops.sha256_hex(email_normalized) = ANY(%(hashes)s)
