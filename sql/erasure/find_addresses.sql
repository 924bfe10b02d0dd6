-- Every address the person's records and leads carry, normalised: the one asked about and those of
-- merged aliases. Kept in this transaction only (the scrub of free text needs them in clear).
CREATE TEMP TABLE _erase_addresses ON COMMIT DROP AS
SELECT DISTINCT email FROM (
    SELECT lower(btrim(r.payload->>'email')) AS email
    FROM raw.leads r JOIN _erase_records USING (source_system, source_id)
    UNION ALL
    SELECT lower(btrim(s.record->>'email'))
    FROM core.lead_sources s JOIN _erase_records USING (source_system, source_id)
    UNION ALL
    SELECT l.email_normalized FROM core.leads l JOIN _erase_leads USING (lead_id)
) found
WHERE email LIKE '%%_@_%%'
