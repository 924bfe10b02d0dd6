-- The lead stays (its id, dates, stage, persona, company and owner: what KPIs count) without anything
-- that points at the person, and is deleted from now on, so nothing downstream acts on it again.
UPDATE core.leads l
   SET email_normalized = NULL, email_domain = NULL, job_title = NULL, attributes = '{}'::jsonb,
       deleted_at = COALESCE(l.deleted_at, now())
  FROM _erase_leads e
 WHERE l.lead_id = e.lead_id
   AND (l.email_normalized IS NOT NULL OR l.email_domain IS NOT NULL OR l.job_title IS NOT NULL
        OR l.attributes <> '{}'::jsonb OR l.deleted_at IS NULL)
