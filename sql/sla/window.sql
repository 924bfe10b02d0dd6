-- _sla_window: every MQL whose clock may still change at <as_of>, with what sla.followups holds of it.
-- Handed over in the re-evaluation window, never evaluated, or with a clock still running (pending, at
-- risk, breached and untouched, or undecided). <mql>: handovers.sql.
-- A temporary table (analysed by the caller) rather than a CTE: estimated from a CTE, the planner expects
-- a few dozen rows and walks the activity index once per lead instead of hashing.
CREATE TEMP TABLE _sla_window ON COMMIT DROP AS
WITH mql AS ({mql})
SELECT m.lead_id, m.mql_at, m.mql_source, f.input_hash AS stored_hash,
       coalesce(f.status IN ('pending', 'at_risk', 'breached_open') OR f.accept_status = 'pending',
                false) AS stored_running,
       f.evaluated_at AS stored_evaluated_at, f.status AS stored_status,
       f.accept_status AS stored_accept_status
FROM mql m LEFT JOIN sla.followups f ON f.lead_id = m.lead_id
-- a lead deleted (or merged away) by the moment read is nobody's to follow up any more
JOIN core.leads l ON l.lead_id = m.lead_id AND (l.deleted_at IS NULL OR l.deleted_at > %(as_of)s)
WHERE m.mql_at >= %(window_start)s
   OR f.lead_id IS NULL
   OR f.status IN ('pending', 'at_risk')
   OR (f.status = 'breached_open' AND f.excluded_at IS NULL)
   OR f.accept_status IN ('pending', 'breached_open')
