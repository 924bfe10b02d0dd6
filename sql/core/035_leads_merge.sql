-- Leads, continued (030_leads.sql merged them into _lead_merged): each changed lead written once, a new
-- one (_lead_new) inserted with its e-mail and every merged field, with its persona when the build
-- matches personas (_build_options.match_personas; _lead_personas holds the persona of every merged job
-- title, a title no persona matches with none). Without matching, a lead keeps the persona it has.

WITH merged AS (
    SELECT m.*, n.lead_id IS NOT NULL AS is_new, n.email_norm,
           CASE WHEN o.match_personas THEN p.persona_id ELSE l.persona_id END AS persona_id,
           o.match_personas AND l.persona_id IS DISTINCT FROM p.persona_id AS persona_changed
    FROM _lead_merged m
    LEFT JOIN core.leads l USING (lead_id)
    LEFT JOIN _lead_new n USING (lead_id)
    CROSS JOIN _build_options o
    LEFT JOIN _lead_personas p ON p.job_title = m.job_title
),
added AS (
    INSERT INTO core.leads
           (lead_id, source_system, source_id, email_normalized, email_domain, job_title, country, company_id,
            lifecycle_stage, owner_id, owner_assigned_at, created_at, updated_at, consent_email, unsubscribed_at,
            deleted_at, attributes, persona_id)
    SELECT lead_id, source_system, source_id, email_norm, split_part(email_norm, '@', 2), job_title, country,
           company_id, lifecycle_stage, owner_id, owner_assigned_at, created_at, updated_at, consent_email,
           unsubscribed_at, deleted_at, attributes, persona_id
    FROM merged
    WHERE is_new
    RETURNING lead_id
),
changed AS (
    UPDATE core.leads l
       SET source_system = m.source_system, source_id = m.source_id, job_title = m.job_title,
           country = m.country, company_id = m.company_id, lifecycle_stage = m.lifecycle_stage,
           owner_id = m.owner_id, owner_assigned_at = m.owner_assigned_at, created_at = m.created_at,
           updated_at = m.updated_at, consent_email = m.consent_email, unsubscribed_at = m.unsubscribed_at,
           deleted_at = m.deleted_at, attributes = m.attributes, persona_id = m.persona_id
      FROM merged m
     WHERE l.lead_id = m.lead_id
       AND (l.source_system, l.source_id, l.job_title, l.country, l.company_id, l.lifecycle_stage, l.owner_id,
            l.owner_assigned_at, l.created_at, l.updated_at, l.consent_email, l.unsubscribed_at, l.deleted_at,
            l.attributes, l.persona_id)
           IS DISTINCT FROM (m.source_system, m.source_id, m.job_title, m.country, m.company_id, m.lifecycle_stage,
                             m.owner_id, m.owner_assigned_at, m.created_at, m.updated_at, m.consent_email,
                             m.unsubscribed_at, m.deleted_at, m.attributes, m.persona_id)
    RETURNING l.lead_id
),
touched AS (
    INSERT INTO _touched_leads SELECT lead_id FROM added UNION ALL SELECT lead_id FROM changed
)
INSERT INTO _build_stats (key, n)
SELECT 'leads.personas', count(*) FROM merged WHERE persona_changed
HAVING (SELECT match_personas FROM _build_options);

-- The changed records, now that their leads exist (030_leads.sql chose them and their leads): those not
-- stored yet (no old lead) inserted, the stored ones updated in place. (`INSERT ... ON CONFLICT` of them
-- all cost 40% more CPU on a first load: a speculative insertion per row.)
INSERT INTO core.lead_sources (source_system, source_id, lead_id, source_updated_at, batch_id, record, archived_at)
SELECT c.source_system, c.source_id, c.lead_id, v.source_updated_at, v.batch_id, v.p, v.archived_at
FROM _changed_lead_sources c
JOIN _lead_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
WHERE c.old_lead_id IS NULL;

UPDATE core.lead_sources s
   SET lead_id = c.lead_id, source_updated_at = v.source_updated_at, batch_id = v.batch_id, record = v.p,
       archived_at = v.archived_at
  FROM _changed_lead_sources c
  JOIN _lead_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
 WHERE c.old_lead_id IS NOT NULL AND s.source_system = c.source_system AND s.source_id = c.source_id;

-- A lead every record left (merged into another lead, or moved to another e-mail) has nothing live:
-- it is deleted from the moment the last record left.
WITH emptied AS (
    UPDATE core.leads l
       SET deleted_at = COALESCE(g.left_at, l.updated_at, l.created_at, 'epoch'::timestamptz)
      FROM (
        SELECT c.old_lead_id AS lead_id, max(COALESCE(ls.archived_at, ls.source_updated_at)) AS left_at
        FROM _changed_lead_sources c
        JOIN core.lead_sources ls USING (source_system, source_id)
        WHERE c.old_lead_id <> c.lead_id
          AND NOT EXISTS (SELECT 1 FROM core.lead_sources s WHERE s.lead_id = c.old_lead_id)
        GROUP BY c.old_lead_id
      ) g
     WHERE l.lead_id = g.lead_id AND l.deleted_at IS NULL
    RETURNING l.lead_id
)
INSERT INTO _touched_leads SELECT lead_id FROM emptied;

INSERT INTO _build_stats (key, n) SELECT 'leads', count(DISTINCT lead_id) FROM _touched_leads;
