-- The person's events and activities keep their type, time and campaign (engagement KPIs) but not the
-- free attributes the source gave them (form answers, notes, subjects).
UPDATE {table} t SET attributes = jsonb_build_object()
  FROM _erase_leads e
 WHERE t.lead_id = e.lead_id AND t.attributes <> jsonb_build_object()
