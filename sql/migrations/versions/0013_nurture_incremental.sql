-- Incremental nurturing plans. A night re-plans only the leads whose planning inputs changed since the
-- last plan (or whose moment came: a cooldown ending, a daily cap's new day, an event leaving the
-- interest window), so it costs in proportion to what changed; a full plan happens the first time, when
-- the agreement's nurturing settings change (their hash), or when asked.

CREATE TABLE nurture.plan_state (
    singleton       boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    as_of           timestamptz,
    config_hash     text,
    mode            text        CHECK (mode IN ('full', 'incremental')),
    run_id          text,
    replanned       integer,
    tracking_since  timestamptz NOT NULL DEFAULT now(),
    planned_at      timestamptz
);
COMMENT ON TABLE nurture.plan_state IS 'The last nurturing plan (one row): the moment it planned for and the hash of the nurturing settings it used. While the row exists, changes to planning inputs are logged in nurture.lead_changes.';
COMMENT ON COLUMN nurture.plan_state.singleton IS 'Always true: the table has one row.';
COMMENT ON COLUMN nurture.plan_state.as_of IS 'Moment the last plan planned for (empty: change tracking started, nothing planned yet). The next plan re-plans what changed since, and leads whose time-bound facts crossed a boundary between the two moments.';
COMMENT ON COLUMN nurture.plan_state.config_hash IS 'Hash of the nurturing settings of the last plan (scenarios, topics, interest window, vocabulary, time zone): a different hash means a full re-plan.';
COMMENT ON COLUMN nurture.plan_state.mode IS 'full (every lead) or incremental (only the changed leads).';
COMMENT ON COLUMN nurture.plan_state.run_id IS 'Nurturing run of the last plan.';
COMMENT ON COLUMN nurture.plan_state.replanned IS 'Leads the last plan re-planned.';
COMMENT ON COLUMN nurture.plan_state.tracking_since IS 'When logging changes to planning inputs began.';
COMMENT ON COLUMN nurture.plan_state.planned_at IS 'When the last plan committed (wall clock).';

-- Append-only, no index: each writer adds its lead ids, the next plan takes them all at once.
CREATE TABLE nurture.lead_changes (
    lead_id         bigint      NOT NULL,
    logged_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE nurture.lead_changes IS 'Leads whose nurturing inputs changed since the last plan (lead facts, scores'' MQL crossings, events, sales touches, deals, SLA clocks, lifecycle history, source records and merges, enrollments ending), logged by statement triggers; the next plan re-plans them and deletes the rows it read.';
COMMENT ON COLUMN nurture.lead_changes.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN nurture.lead_changes.logged_at IS 'When the change was logged.';

-- Unlogged: rebuilt by any full plan; after a server crash it is empty and the next plan is a full one.
CREATE UNLOGGED TABLE nurture.lead_state (
    lead_id         bigint      PRIMARY KEY,
    is_mql          boolean     NOT NULL,
    wake_at         timestamptz
);
CREATE INDEX lead_state_wake_idx ON nurture.lead_state (wake_at) WHERE wake_at IS NOT NULL;
COMMENT ON TABLE nurture.lead_state IS 'What the last plan saw of each lead that the change log cannot tell: its MQL state (scoring rewrites every score each run, so flips are found by comparing) and when time alone may change its plan (a cooldown ending, a daily cap''s next day).';
COMMENT ON COLUMN nurture.lead_state.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN nurture.lead_state.is_mql IS 'Whether the lead met the MQL rule when last planned.';
COMMENT ON COLUMN nurture.lead_state.wake_at IS 'Re-plan the lead at the first plan at or after this moment (empty: only when its inputs change).';

-- Statement triggers: one INSERT of distinct lead ids per statement, only the columns planning reads
-- compared (an update that rewrites a row unchanged logs nothing), and nothing at all before the first
-- plan (no plan_state row): the first plan reads every lead anyway.
CREATE FUNCTION nurture.log_lead_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols text := TG_ARGV[0];  -- lead_id first, then the columns planning reads
BEGIN
    IF NOT EXISTS (SELECT 1 FROM nurture.plan_state) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO nurture.lead_changes (lead_id) SELECT DISTINCT lead_id FROM new_rows '
                       'WHERE lead_id IS NOT NULL');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('INSERT INTO nurture.lead_changes (lead_id) SELECT DISTINCT lead_id FROM old_rows '
                       'WHERE lead_id IS NOT NULL');
    ELSE
        EXECUTE format('INSERT INTO nurture.lead_changes (lead_id) SELECT DISTINCT lead_id FROM ('
                       '(SELECT %1$s FROM new_rows EXCEPT SELECT %1$s FROM old_rows) UNION ALL '
                       '(SELECT %1$s FROM old_rows EXCEPT SELECT %1$s FROM new_rows)) c WHERE lead_id IS NOT NULL',
                       cols);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nurture.log_lead_changes() IS 'Logs the leads of inserted, deleted or changed rows (the columns named in the trigger''s argument) into nurture.lead_changes, once nurturing has planned.';

-- Merges name source records, not leads: the leads are those records'' owners.
CREATE FUNCTION nurture.log_merge_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM nurture.plan_state) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO nurture.lead_changes (lead_id)
        SELECT DISTINCT s.lead_id FROM old_rows o
        JOIN core.lead_sources s ON s.source_system = o.source_system AND s.source_id = o.source_id;
    ELSE
        INSERT INTO nurture.lead_changes (lead_id)
        SELECT DISTINCT s.lead_id FROM new_rows n
        JOIN core.lead_sources s ON s.source_system = n.source_system AND s.source_id = n.source_id;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nurture.log_merge_changes() IS 'Logs the leads owning merged (or un-merged) source records into nurture.lead_changes, once nurturing has planned.';

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('core', 'leads', 'lead_id, persona_id, lifecycle_stage, consent_email, unsubscribed_at, deleted_at'),
        ('core', 'marketing_events', 'lead_id, event_type, occurred_at, content_topic, attributes->>''bounce_type'''),
        ('core', 'sales_activities', 'lead_id, activity_type, occurred_at'),
        ('core', 'deals', 'lead_id, is_won, closed_at, deleted_at'),
        ('core', 'lifecycle_history', 'lead_id, stage, entered_at'),
        ('core', 'lead_sources', 'lead_id, source_system, source_id, source_updated_at, archived_at'),
        ('sla', 'followups', 'lead_id, status, accept_status, decision, decided_at, decision_stage'),
        ('scoring', 'mql_crossings', 'lead_id, crossed_at')
    ) AS v (schema_name, table_name, cols) LOOP
        EXECUTE format('CREATE TRIGGER %2$s_nurture_inserts AFTER INSERT ON %1$I.%2$I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_lead_changes(%3$L)', t.schema_name, t.table_name, t.cols);
        EXECUTE format('CREATE TRIGGER %2$s_nurture_deletes AFTER DELETE ON %1$I.%2$I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_lead_changes(%3$L)', t.schema_name, t.table_name, t.cols);
        EXECUTE format('CREATE TRIGGER %2$s_nurture_updates AFTER UPDATE ON %1$I.%2$I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_lead_changes(%3$L)', t.schema_name, t.table_name, t.cols);
    END LOOP;
END $$;

CREATE TRIGGER lead_merges_nurture_inserts AFTER INSERT ON core.lead_merges REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_merge_changes();
CREATE TRIGGER lead_merges_nurture_deletes AFTER DELETE ON core.lead_merges REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_merge_changes();

-- An enrollment that ends (exited, or skipped before it was sent) frees its lead for another scenario
-- and starts a cooldown; every other move (pushed, confirmed, attempts) changes nothing planning reads.
CREATE TRIGGER enrollments_nurture_updates AFTER UPDATE ON nurture.enrollments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nurture.log_lead_changes('lead_id, scenario_id, state IN (''exited'', ''skipped'') AS ended, exited_at');
