-- Each live lead's staged row (sql/kpi/stg_leads.sql: dimensions and funnel moments) as of the last KPI
-- build, and what it was staged as of. A one-day refresh rewrites months holding tens of thousands of
-- leads of which a few hundred moved: it stages those again and copies the others from here. Unlogged:
-- a crash empties both tables, and the next build stages every lead again (an empty table costs time
-- only). In ops: kpi_reader does not read them (lead ids and moments, no name and no e-mail).
CREATE UNLOGGED TABLE ops.kpi_lead_stages (
    lead_id         bigint      PRIMARY KEY,
    channel         text,
    persona         text,
    country         text,
    industry        text,
    owner_id        text,
    team            text,
    created_at      timestamptz,
    mql_at          timestamptz,
    sql_at          timestamptz,
    opportunity_at  timestamptz,
    customer_at     timestamptz,
    first_won_at    timestamptz
);
COMMENT ON TABLE ops.kpi_lead_stages IS 'Each live lead''s staged row (dimensions, funnel moments) as of ops.kpi_lead_stages_state; an incremental KPI build stages again only the leads that moved. A build internal: not read by kpi_reader.';

COMMENT ON COLUMN ops.kpi_lead_stages.lead_id IS 'Lead (core.leads.lead_id), live at the moment it was staged as of.';
COMMENT ON COLUMN ops.kpi_lead_stages.channel IS 'The lead''s normalised channel (ops.kpi_lead_channel of its attributes).';
COMMENT ON COLUMN ops.kpi_lead_stages.persona IS 'Persona id (''unknown'' when none).';
COMMENT ON COLUMN ops.kpi_lead_stages.country IS 'The lead''s country, else its company''s, upper case (''unknown'' when none).';
COMMENT ON COLUMN ops.kpi_lead_stages.industry IS 'The company''s industry, normalised (''unknown'' when none).';
COMMENT ON COLUMN ops.kpi_lead_stages.owner_id IS 'Owner (core.owners.owner_id), ''unknown'' when none.';
COMMENT ON COLUMN ops.kpi_lead_stages.team IS 'The owner''s team, ''unknown'' when none.';
COMMENT ON COLUMN ops.kpi_lead_stages.created_at IS 'Creation (NULL: after the moment staged as of).';
COMMENT ON COLUMN ops.kpi_lead_stages.mql_at IS 'First MQL moment: the first MQL lifecycle entry or MQL crossing, whichever came first.';
COMMENT ON COLUMN ops.kpi_lead_stages.sql_at IS 'First entry into an SQL stage.';
COMMENT ON COLUMN ops.kpi_lead_stages.opportunity_at IS 'First opportunity: the opportunity stage or the first deal opened, whichever came first.';
COMMENT ON COLUMN ops.kpi_lead_stages.customer_at IS 'First customer moment: the customer stage or the first won deal, whichever came first.';
COMMENT ON COLUMN ops.kpi_lead_stages.first_won_at IS 'First won deal''s close.';

CREATE UNLOGGED TABLE ops.kpi_lead_stages_state (
    one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
    watermark  jsonb       NOT NULL,
    as_of      timestamptz NOT NULL,
    settings   jsonb       NOT NULL
);
COMMENT ON TABLE ops.kpi_lead_stages_state IS 'What ops.kpi_lead_stages holds: the inputs folded (the KPI watermark), the moment and the stage settings (MQL and SQL stages) it was staged with. No row: nothing kept, the next build stages every lead.';

COMMENT ON COLUMN ops.kpi_lead_stages_state.one IS 'Always true: the table holds one row.';
COMMENT ON COLUMN ops.kpi_lead_stages_state.watermark IS 'The KPI watermark (raw batches folded per object, wall clock) the kept rows were staged at.';
COMMENT ON COLUMN ops.kpi_lead_stages_state.as_of IS 'The build''s moment the kept rows were staged as of.';
COMMENT ON COLUMN ops.kpi_lead_stages_state.settings IS 'The MQL stage and SQL stages the kept rows were staged with.';

-- The deleted leads, few: a build finds the kept leads deleted without a record of their own landing
-- (every record merged into another lead, an erasure) and those whose deletion passed between two builds.
CREATE INDEX leads_deleted_idx ON core.leads (deleted_at) WHERE deleted_at IS NOT NULL;
