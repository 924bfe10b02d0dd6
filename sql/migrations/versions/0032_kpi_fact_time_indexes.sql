-- The KPI build's change finding (sql/kpi/changes.sql) and its restaging (sql/kpi/stg_moved.sql) look up
-- the rows dated or written between two moments a day apart: by index instead of a scan of the table.
CREATE INDEX followups_updated_idx ON sla.followups (updated_at);
CREATE INDEX lifecycle_history_entered_idx ON core.lifecycle_history (entered_at);
CREATE INDEX deals_created_idx ON core.deals (created_at);
CREATE INDEX deals_closed_idx ON core.deals (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX deals_deleted_idx ON core.deals (deleted_at) WHERE deleted_at IS NOT NULL;
