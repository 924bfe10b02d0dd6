-- Rows of the person that are only useful while they exist (the scoring change log, what the CRM was
-- last sent).
DELETE FROM {table} t USING _erase_leads e WHERE t.lead_id = e.lead_id
