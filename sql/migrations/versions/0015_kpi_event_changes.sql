-- kpi.engagement_monthly by difference. Counting a month again for a day's events reads the whole month;
-- adding the day's events to the counts reads only them. The changes to core.marketing_events are logged
-- here by statement triggers (what each row counted for, -1 for a version that left, +1 for one that came),
-- and the next KPI build takes them all, in the transaction that applies them (sql/kpi/engagement_delta.sql).
-- Nothing is logged before the first engagement build asks for it (ops.kpi_event_tracking): that build
-- counts every event anyway. Both tables are in ops: kpi_reader does not read them.

CREATE TABLE ops.kpi_event_tracking (
    singleton       boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    since           timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.kpi_event_tracking IS 'One row once the KPI build has started logging changes to marketing events (ops.kpi_event_changes); before it, nothing is logged.';
COMMENT ON COLUMN ops.kpi_event_tracking.singleton IS 'Always true: the table has one row.';
COMMENT ON COLUMN ops.kpi_event_tracking.since IS 'When logging began.';

-- Append-only, no index: writers add rows, the next build takes them all at once.
CREATE TABLE ops.kpi_event_changes (
    occurred_at     timestamptz NOT NULL,
    lead_id         bigint      NOT NULL,
    event_type      text        NOT NULL,
    campaign_id     text,
    content_topic   text,
    delta           smallint    NOT NULL CHECK (delta IN (-1, 1)),
    logged_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.kpi_event_changes IS 'Changes to core.marketing_events not yet in kpi.engagement_monthly: what a version of an event counted for, taken away (-1) or added (+1). The next KPI build applies and deletes the rows up to its moment; later ones wait for their time.';
COMMENT ON COLUMN ops.kpi_event_changes.occurred_at IS 'When the interaction happened (its month is the one it counts in).';
COMMENT ON COLUMN ops.kpi_event_changes.lead_id IS 'Lead (core.leads.lead_id): the events of leads deleted by the build''s moment do not count.';
COMMENT ON COLUMN ops.kpi_event_changes.event_type IS 'Kind of interaction (core.event_types).';
COMMENT ON COLUMN ops.kpi_event_changes.campaign_id IS 'Campaign as stored in core (normalised when applied).';
COMMENT ON COLUMN ops.kpi_event_changes.content_topic IS 'Content topic as stored in core (normalised when applied).';
COMMENT ON COLUMN ops.kpi_event_changes.delta IS '+1: this version now counts; -1: it no longer does (updated or deleted).';
COMMENT ON COLUMN ops.kpi_event_changes.logged_at IS 'When the change was logged.';

-- One INSERT per statement; an update logs only the rows whose counted columns changed (the multiset
-- difference of old and new versions), so a fold rewriting events unchanged logs nothing.
CREATE FUNCTION ops.kpi_log_event_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ops.kpi_event_tracking) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ops.kpi_event_changes (occurred_at, lead_id, event_type, campaign_id, content_topic, delta)
        SELECT occurred_at, lead_id, event_type, campaign_id, content_topic, 1 FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ops.kpi_event_changes (occurred_at, lead_id, event_type, campaign_id, content_topic, delta)
        SELECT occurred_at, lead_id, event_type, campaign_id, content_topic, -1 FROM old_rows;
    ELSE
        INSERT INTO ops.kpi_event_changes (occurred_at, lead_id, event_type, campaign_id, content_topic, delta)
        SELECT c.*, -1 FROM (SELECT occurred_at, lead_id, event_type, campaign_id, content_topic FROM old_rows
                             EXCEPT ALL
                             SELECT occurred_at, lead_id, event_type, campaign_id, content_topic FROM new_rows) c
        UNION ALL
        SELECT c.*, 1 FROM (SELECT occurred_at, lead_id, event_type, campaign_id, content_topic FROM new_rows
                            EXCEPT ALL
                            SELECT occurred_at, lead_id, event_type, campaign_id, content_topic FROM old_rows) c;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ops.kpi_log_event_changes() IS 'Logs what inserted, deleted or changed marketing events counted for into ops.kpi_event_changes, once the KPI build tracks them (ops.kpi_event_tracking).';

CREATE TRIGGER marketing_events_kpi_inserts AFTER INSERT ON core.marketing_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.kpi_log_event_changes();
CREATE TRIGGER marketing_events_kpi_deletes AFTER DELETE ON core.marketing_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.kpi_log_event_changes();
CREATE TRIGGER marketing_events_kpi_updates AFTER UPDATE ON core.marketing_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.kpi_log_event_changes();
