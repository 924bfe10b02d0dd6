-- The leads whose kept staged row (ops.kpi_lead_stages, stg_leads.sql) may have moved since it was staged:
-- those whose record, company, owner, lifecycle entries, deals or MQL crossings changed since its
-- watermark (_kpi_changed_leads, sql/kpi/changes.sql, for that watermark; a changed event moves no staged
-- row), and those with a fact after the earlier of the moment it was staged as of and this build's, up to
-- the later (a build as of an earlier moment too): one of the two moments reads it and the other does not.
--   %(moved_from)s, %(moved_to)s  the two moments, the earlier first
DROP TABLE IF EXISTS _kpi_restage;

CREATE TEMP TABLE _kpi_restage AS
SELECT c.lead_id FROM _kpi_changed_leads c WHERE c.why <> 'events'
UNION
SELECT l.lead_id FROM core.leads l
WHERE (l.created_at > %(moved_from)s AND l.created_at <= %(moved_to)s)
   OR (l.deleted_at > %(moved_from)s AND l.deleted_at <= %(moved_to)s)
UNION
SELECT h.lead_id FROM core.lifecycle_history h
WHERE h.entered_at > %(moved_from)s AND h.entered_at <= %(moved_to)s
UNION
SELECT x.lead_id FROM scoring.mql_crossings x
WHERE x.crossed_at > %(moved_from)s AND x.crossed_at <= %(moved_to)s
UNION
SELECT d.lead_id FROM core.deals d
WHERE d.lead_id IS NOT NULL
  AND ((d.created_at > %(moved_from)s AND d.created_at <= %(moved_to)s)
       OR (d.closed_at > %(moved_from)s AND d.closed_at <= %(moved_to)s)
       OR (d.deleted_at > %(moved_from)s AND d.deleted_at <= %(moved_to)s));

CREATE UNIQUE INDEX ON _kpi_restage (lead_id);
ANALYZE _kpi_restage;
