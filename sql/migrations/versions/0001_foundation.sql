-- Foundation: schemas, the landing zone, the source-agnostic core model, operations tables and the
-- read-only KPI role. Every table and column carries a COMMENT: BI tools show it to the teams.

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS scoring;
CREATE SCHEMA IF NOT EXISTS sla;
CREATE SCHEMA IF NOT EXISTS nurture;
CREATE SCHEMA IF NOT EXISTS dq;
CREATE SCHEMA IF NOT EXISTS kpi;
CREATE SCHEMA IF NOT EXISTS ops;

COMMENT ON SCHEMA raw IS 'Records as received from each source (JSONB payload keyed by canonical field names), append-only.';
COMMENT ON SCHEMA core IS 'One source-agnostic model of leads, companies, owners, events, activities, deals and lifecycle history.';
COMMENT ON SCHEMA scoring IS 'Lead scores, their history, per-rule contributions and MQL crossings.';
COMMENT ON SCHEMA sla IS 'Sales follow-up clock, breaches and marketing delivery against target.';
COMMENT ON SCHEMA nurture IS 'Nurturing enrollments ledger.';
COMMENT ON SCHEMA dq IS 'Data-quality results and quarantined rows.';
COMMENT ON SCHEMA kpi IS 'KPI tables for the monthly sales and marketing review (readable by kpi_reader).';
COMMENT ON SCHEMA ops IS 'Pipeline operations: load batches, sync state, core build state.';

-- ---------------------------------------------------------------------------------------------
-- ops
-- ---------------------------------------------------------------------------------------------
CREATE TABLE ops.load_batches (
    batch_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_system   text        NOT NULL,
    object          text        NOT NULL,
    origin          text        NOT NULL,
    content_sha256  text,
    row_count       integer     NOT NULL DEFAULT 0,
    run_id          text,
    loaded_at       timestamptz NOT NULL DEFAULT now()
);
-- A re-delivered file (same bytes) is recognised by its hash and loads nothing twice.
CREATE UNIQUE INDEX load_batches_content_once
    ON ops.load_batches (source_system, object, content_sha256) WHERE content_sha256 IS NOT NULL;
COMMENT ON TABLE ops.load_batches IS 'One row per landed batch (a file, or a page of an API pull).';
COMMENT ON COLUMN ops.load_batches.batch_id IS 'Batch identifier; raw rows reference it.';
COMMENT ON COLUMN ops.load_batches.source_system IS 'Source system name from the source mapping (e.g. sandbox_crm, hubspot).';
COMMENT ON COLUMN ops.load_batches.object IS 'Canonical object the batch holds (leads, companies, owners, marketing_events, sales_activities, deals, lifecycle_history).';
COMMENT ON COLUMN ops.load_batches.origin IS 'Where the batch came from: a file path relative to its source root, or an API request description.';
COMMENT ON COLUMN ops.load_batches.content_sha256 IS 'SHA-256 of the delivered bytes (files): a second delivery of the same bytes is skipped.';
COMMENT ON COLUMN ops.load_batches.row_count IS 'Rows landed in raw by this batch.';
COMMENT ON COLUMN ops.load_batches.run_id IS 'Airflow run id (or CLI run id) that landed the batch.';
COMMENT ON COLUMN ops.load_batches.loaded_at IS 'When the batch was committed.';

CREATE TABLE ops.sync_state (
    source_system   text        NOT NULL,
    object          text        NOT NULL,
    watermark       timestamptz,
    cursor          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_system, object)
);
COMMENT ON TABLE ops.sync_state IS 'Incremental extraction state per source and object; advances in the same transaction as the rows it covers.';
COMMENT ON COLUMN ops.sync_state.source_system IS 'Source system name.';
COMMENT ON COLUMN ops.sync_state.object IS 'Canonical object name.';
COMMENT ON COLUMN ops.sync_state.watermark IS 'Last-modified time up to which every record has been landed.';
COMMENT ON COLUMN ops.sync_state.cursor IS 'Source-specific resume state (paging cursor, window bounds).';
COMMENT ON COLUMN ops.sync_state.updated_at IS 'When the state last advanced.';

CREATE TABLE ops.core_builds (
    object          text        PRIMARY KEY,
    last_batch_id   bigint      NOT NULL DEFAULT 0,
    built_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.core_builds IS 'How far each core table has been built from raw (the highest batch id folded in).';
COMMENT ON COLUMN ops.core_builds.object IS 'Canonical object name.';
COMMENT ON COLUMN ops.core_builds.last_batch_id IS 'Highest ops.load_batches.batch_id already folded into core.';
COMMENT ON COLUMN ops.core_builds.built_at IS 'When the last build committed.';

-- ---------------------------------------------------------------------------------------------
-- raw: one table per canonical object, same shape everywhere.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    obj text;
BEGIN
    FOREACH obj IN ARRAY ARRAY['leads', 'companies', 'owners', 'marketing_events', 'sales_activities', 'deals', 'lifecycle_history']
    LOOP
        EXECUTE format($f$
            CREATE TABLE raw.%1$I (
                batch_id          bigint      NOT NULL,  -- ops.load_batches; no FK: a per-row RI check would double COPY time, and landing writes both in one transaction
                record_no         integer     NOT NULL,
                source_system     text        NOT NULL,
                source_id         text        NOT NULL,
                source_updated_at timestamptz,
                payload           jsonb       NOT NULL,
                PRIMARY KEY (batch_id, record_no)
            )$f$, obj);
        EXECUTE format('CREATE INDEX ON raw.%1$I (source_system, source_id)', obj);
        -- The core build re-resolves facts whose lead arrived after them (any landing order works).
        IF obj IN ('marketing_events', 'sales_activities', 'deals', 'lifecycle_history') THEN
            EXECUTE format('CREATE INDEX ON raw.%1$I (source_system, (payload->>%2$L))', obj, 'lead_source_id');
        END IF;
        IF obj = 'deals' THEN
            EXECUTE format('CREATE INDEX ON raw.%1$I (source_system, (payload->>%2$L))', obj, 'company_source_id');
        END IF;
        EXECUTE format('COMMENT ON TABLE raw.%1$I IS %2$L', obj,
            'Landed ' || obj || ' records exactly as received, keyed by canonical field names; append-only history.');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.batch_id IS %2$L', obj, 'Batch that landed the record (ops.load_batches).');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.record_no IS %2$L', obj, 'Position of the record in its batch (file row number, 1 = first data row).');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.source_system IS %2$L', obj, 'Source system name.');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.source_id IS %2$L', obj, 'Record id in the source system.');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.source_updated_at IS %2$L', obj, 'Last-modified time given by the source, when it gives one.');
        EXECUTE format('COMMENT ON COLUMN raw.%1$I.payload IS %2$L', obj, 'The record: canonical fields plus every unmapped source field under "attributes".');
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- core: the controlled vocabularies
-- ---------------------------------------------------------------------------------------------
CREATE TABLE core.event_types (
    event_type      text PRIMARY KEY,
    category        text NOT NULL,
    description     text NOT NULL
);
COMMENT ON TABLE core.event_types IS 'Controlled vocabulary of marketing event types; sources map their own names onto these.';
COMMENT ON COLUMN core.event_types.event_type IS 'Event type name used everywhere (scoring rules, nurturing, KPIs).';
COMMENT ON COLUMN core.event_types.category IS 'Family of the event: email, web, form, content, event, subscription.';
COMMENT ON COLUMN core.event_types.description IS 'What the event means.';
INSERT INTO core.event_types (event_type, category, description) VALUES
    ('email_sent',         'email',        'A marketing e-mail was delivered to the lead.'),
    ('email_open',         'email',        'The lead opened a marketing e-mail.'),
    ('email_click',        'email',        'The lead clicked a link in a marketing e-mail.'),
    ('bounce',             'email',        'A marketing e-mail to the lead bounced.'),
    ('unsubscribe',        'subscription', 'The lead unsubscribed from marketing e-mail.'),
    ('newsletter_signup',  'subscription', 'The lead subscribed to the newsletter.'),
    ('form_submission',    'form',         'The lead submitted a form (contact, demo request, gated content).'),
    ('demo_request',       'form',         'The lead asked for a demo or a sales call.'),
    ('content_download',   'content',      'The lead downloaded content (white paper, e-book, report).'),
    ('webinar_registered', 'event',        'The lead registered for a webinar.'),
    ('webinar_attended',   'event',        'The lead attended a webinar.'),
    ('event_attended',     'event',        'The lead attended an in-person event or trade show.'),
    ('page_view',          'web',          'The lead viewed a page of the website.'),
    ('pricing_page_view',  'web',          'The lead viewed the pricing page.'),
    ('ad_click',           'web',          'The lead clicked a paid advertisement.'),
    ('social_engagement',  'web',          'The lead engaged with a social media post.'),
    ('chat_started',       'web',          'The lead started a website chat.');

CREATE TABLE core.activity_types (
    activity_type   text PRIMARY KEY,
    description     text NOT NULL
);
COMMENT ON TABLE core.activity_types IS 'Controlled vocabulary of sales activity types (touches).';
COMMENT ON COLUMN core.activity_types.activity_type IS 'Activity type name.';
COMMENT ON COLUMN core.activity_types.description IS 'What the activity is.';
INSERT INTO core.activity_types (activity_type, description) VALUES
    ('call',     'A phone call by a sales rep.'),
    ('email',    'A one-to-one sales e-mail.'),
    ('meeting',  'A meeting (in person or video).'),
    ('linkedin', 'A social-selling message.'),
    ('sms',      'A text message.'),
    ('note',     'An internal note; not a touch of the lead.'),
    ('task',     'A follow-up task created; not a touch of the lead.');

-- ---------------------------------------------------------------------------------------------
-- core: identities (the same person or company across systems is one row in core)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE core.companies (
    company_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_system   text        NOT NULL,
    source_id       text        NOT NULL,
    name            text,
    domain          text,
    industry        text,
    employees       integer,
    annual_revenue  numeric(18, 2),
    country         text,
    updated_at      timestamptz,
    attributes      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX companies_domain_key ON core.companies (domain) WHERE domain IS NOT NULL;
-- A company without a domain is its own company, one per source record.
CREATE UNIQUE INDEX companies_source_key ON core.companies (source_system, source_id) WHERE domain IS NULL;
COMMENT ON TABLE core.companies IS 'Companies (accounts), one row per real company across sources (matched by normalised web domain).';
COMMENT ON COLUMN core.companies.company_id IS 'Warehouse company id.';
COMMENT ON COLUMN core.companies.source_system IS 'Source of the most recently updated record for this company.';
COMMENT ON COLUMN core.companies.source_id IS 'Id of that record in its source.';
COMMENT ON COLUMN core.companies.name IS 'Company name.';
COMMENT ON COLUMN core.companies.domain IS 'Normalised web domain (lower case, no www.).';
COMMENT ON COLUMN core.companies.industry IS 'Industry as given by the source.';
COMMENT ON COLUMN core.companies.employees IS 'Number of employees.';
COMMENT ON COLUMN core.companies.annual_revenue IS 'Annual revenue in the reporting currency.';
COMMENT ON COLUMN core.companies.country IS 'Country (ISO 3166-1 alpha-2 where the source gives one).';
COMMENT ON COLUMN core.companies.updated_at IS 'Last modification time in the source.';
COMMENT ON COLUMN core.companies.attributes IS 'Every other source field, by its source name.';

CREATE TABLE core.company_sources (
    source_system     text        NOT NULL,
    source_id         text        NOT NULL,
    company_id        bigint      NOT NULL REFERENCES core.companies (company_id),
    source_updated_at timestamptz,
    batch_id          bigint      NOT NULL,
    record            jsonb       NOT NULL,
    PRIMARY KEY (source_system, source_id)
);
CREATE INDEX company_sources_company_idx ON core.company_sources (company_id);
COMMENT ON TABLE core.company_sources IS 'Which source record is which warehouse company, with the latest version of each record (core.companies merges them).';
COMMENT ON COLUMN core.company_sources.source_system IS 'Source system name.';
COMMENT ON COLUMN core.company_sources.source_id IS 'Company id in the source.';
COMMENT ON COLUMN core.company_sources.company_id IS 'Warehouse company id.';
COMMENT ON COLUMN core.company_sources.source_updated_at IS 'Last-modified time of this version in the source.';
COMMENT ON COLUMN core.company_sources.batch_id IS 'Batch that landed this version.';
COMMENT ON COLUMN core.company_sources.record IS 'The landed payload of this version.';

CREATE TABLE core.owners (
    owner_id        text PRIMARY KEY,
    source_system   text        NOT NULL,
    source_id       text        NOT NULL,
    name            text,
    team            text,
    manager_id      text,
    timezone        text,
    active          boolean     NOT NULL DEFAULT true,
    updated_at      timestamptz
);
COMMENT ON TABLE core.owners IS 'Sales reps and managers who own leads.';
COMMENT ON COLUMN core.owners.owner_id IS 'Owner id: "<source_system>:<source id>".';
COMMENT ON COLUMN core.owners.source_system IS 'Source system name.';
COMMENT ON COLUMN core.owners.source_id IS 'Owner id in the source.';
COMMENT ON COLUMN core.owners.name IS 'Display name of the owner.';
COMMENT ON COLUMN core.owners.team IS 'Sales team.';
COMMENT ON COLUMN core.owners.manager_id IS 'Owner id of the manager (SLA escalations go there).';
COMMENT ON COLUMN core.owners.timezone IS 'IANA time zone of the owner, when it differs from the organisation''s.';
COMMENT ON COLUMN core.owners.active IS 'Whether the owner can still be assigned leads.';
COMMENT ON COLUMN core.owners.updated_at IS 'Last modification time in the source.';

CREATE TABLE core.leads (
    lead_id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_system    text        NOT NULL,
    source_id        text        NOT NULL,
    email_normalized text,
    email_domain     text,
    job_title        text,
    persona_id       text,
    country          text,
    company_id       bigint REFERENCES core.companies (company_id),
    lifecycle_stage  text,
    owner_id         text,
    created_at       timestamptz,
    updated_at       timestamptz,
    consent_email    boolean,
    unsubscribed_at  timestamptz,
    attributes       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX leads_email_key ON core.leads (email_normalized) WHERE email_normalized IS NOT NULL;
-- A lead without a usable e-mail is its own lead, one per source record.
CREATE UNIQUE INDEX leads_source_key ON core.leads (source_system, source_id) WHERE email_normalized IS NULL;
CREATE INDEX leads_company_idx ON core.leads (company_id);
COMMENT ON TABLE core.leads IS 'Leads and contacts, one row per person across CRM and marketing tool (matched by normalised e-mail).';
COMMENT ON COLUMN core.leads.lead_id IS 'Warehouse lead id (stable; use it instead of e-mail everywhere downstream).';
COMMENT ON COLUMN core.leads.source_system IS 'Source of the record that created the lead.';
COMMENT ON COLUMN core.leads.source_id IS 'Id of that record in its source.';
COMMENT ON COLUMN core.leads.email_normalized IS 'E-mail, trimmed and lower-cased (personal data: never copied into kpi.*).';
COMMENT ON COLUMN core.leads.email_domain IS 'Domain part of the e-mail.';
COMMENT ON COLUMN core.leads.job_title IS 'Job title as given by the source.';
COMMENT ON COLUMN core.leads.persona_id IS 'Persona from the agreement (personas[].id) matched on the job title.';
COMMENT ON COLUMN core.leads.country IS 'Country of the lead.';
COMMENT ON COLUMN core.leads.company_id IS 'Company the lead works for (core.companies).';
COMMENT ON COLUMN core.leads.lifecycle_stage IS 'Current lifecycle stage (subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity, customer, nurturing, disqualified, ...).';
COMMENT ON COLUMN core.leads.owner_id IS 'Sales owner (core.owners).';
COMMENT ON COLUMN core.leads.created_at IS 'When the lead first appeared in any source.';
COMMENT ON COLUMN core.leads.updated_at IS 'Latest modification time across sources.';
COMMENT ON COLUMN core.leads.consent_email IS 'Marketing e-mail consent; false as soon as any source says so.';
COMMENT ON COLUMN core.leads.unsubscribed_at IS 'When the lead unsubscribed from marketing e-mail, if it did.';
COMMENT ON COLUMN core.leads.attributes IS 'Every other source field, by its source name (the latest value across sources).';

CREATE TABLE core.lead_sources (
    source_system     text        NOT NULL,
    source_id         text        NOT NULL,
    lead_id           bigint      NOT NULL REFERENCES core.leads (lead_id),
    source_updated_at timestamptz,
    batch_id          bigint      NOT NULL,
    record            jsonb       NOT NULL,
    PRIMARY KEY (source_system, source_id)
);
CREATE INDEX lead_sources_lead_idx ON core.lead_sources (lead_id);
-- Leads to re-merge when a company record they point at arrives or moves.
CREATE INDEX lead_sources_company_idx ON core.lead_sources (source_system, (record->>'company_source_id'));
COMMENT ON TABLE core.lead_sources IS 'The latest version of every source record of a lead; core.leads merges them.';
COMMENT ON COLUMN core.lead_sources.source_system IS 'Source system name.';
COMMENT ON COLUMN core.lead_sources.source_id IS 'Contact id in the source.';
COMMENT ON COLUMN core.lead_sources.lead_id IS 'Warehouse lead id.';
COMMENT ON COLUMN core.lead_sources.source_updated_at IS 'Last-modified time of this version in the source.';
COMMENT ON COLUMN core.lead_sources.batch_id IS 'Batch that landed this version.';
COMMENT ON COLUMN core.lead_sources.record IS 'The landed payload of this version.';

-- ---------------------------------------------------------------------------------------------
-- core: facts
-- ---------------------------------------------------------------------------------------------
CREATE TABLE core.marketing_events (
    event_id        text        PRIMARY KEY,
    lead_id         bigint      NOT NULL REFERENCES core.leads (lead_id),
    event_type      text        NOT NULL REFERENCES core.event_types (event_type),
    occurred_at     timestamptz NOT NULL,
    campaign_id     text,
    content_topic   text,
    source_system   text        NOT NULL,
    attributes      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX marketing_events_lead_idx ON core.marketing_events (lead_id, occurred_at);
CREATE INDEX marketing_events_time_idx ON core.marketing_events (occurred_at);
COMMENT ON TABLE core.marketing_events IS 'What leads did: e-mail, web, form, content and event interactions.';
COMMENT ON COLUMN core.marketing_events.event_id IS 'Event id: "<source_system>:<source id>".';
COMMENT ON COLUMN core.marketing_events.lead_id IS 'Lead who did it.';
COMMENT ON COLUMN core.marketing_events.event_type IS 'Event type from the controlled vocabulary core.event_types.';
COMMENT ON COLUMN core.marketing_events.occurred_at IS 'When it happened.';
COMMENT ON COLUMN core.marketing_events.campaign_id IS 'Campaign or e-mail id it belongs to.';
COMMENT ON COLUMN core.marketing_events.content_topic IS 'Topic of the content, page or form (e.g. pricing, integration, security).';
COMMENT ON COLUMN core.marketing_events.source_system IS 'Source system name.';
COMMENT ON COLUMN core.marketing_events.attributes IS 'Every other source field, by its source name.';

CREATE TABLE core.sales_activities (
    activity_id     text        PRIMARY KEY,
    lead_id         bigint      NOT NULL REFERENCES core.leads (lead_id),
    owner_id        text,
    activity_type   text        NOT NULL REFERENCES core.activity_types (activity_type),
    occurred_at     timestamptz NOT NULL,
    source_system   text        NOT NULL,
    attributes      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX sales_activities_lead_idx ON core.sales_activities (lead_id, occurred_at);
COMMENT ON TABLE core.sales_activities IS 'Sales touches logged in the CRM (calls, e-mails, meetings, ...).';
COMMENT ON COLUMN core.sales_activities.activity_id IS 'Activity id: "<source_system>:<source id>".';
COMMENT ON COLUMN core.sales_activities.lead_id IS 'Lead who was touched.';
COMMENT ON COLUMN core.sales_activities.owner_id IS 'Owner who did it (core.owners).';
COMMENT ON COLUMN core.sales_activities.activity_type IS 'Activity type from core.activity_types.';
COMMENT ON COLUMN core.sales_activities.occurred_at IS 'When it happened.';
COMMENT ON COLUMN core.sales_activities.source_system IS 'Source system name.';
COMMENT ON COLUMN core.sales_activities.attributes IS 'Every other source field, by its source name.';

CREATE TABLE core.deals (
    deal_id         text        PRIMARY KEY,
    lead_id         bigint      REFERENCES core.leads (lead_id),
    company_id      bigint      REFERENCES core.companies (company_id),
    amount          numeric(18, 2),
    stage           text,
    created_at      timestamptz,
    closed_at       timestamptz,
    is_won          boolean,
    source_system   text        NOT NULL,
    attributes      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX deals_lead_idx ON core.deals (lead_id);
COMMENT ON TABLE core.deals IS 'Deals (opportunities) and their outcome.';
COMMENT ON COLUMN core.deals.deal_id IS 'Deal id: "<source_system>:<source id>".';
COMMENT ON COLUMN core.deals.lead_id IS 'Lead the deal came from.';
COMMENT ON COLUMN core.deals.company_id IS 'Company the deal is with.';
COMMENT ON COLUMN core.deals.amount IS 'Deal amount in the reporting currency.';
COMMENT ON COLUMN core.deals.stage IS 'Deal stage as given by the source.';
COMMENT ON COLUMN core.deals.created_at IS 'When the deal was opened.';
COMMENT ON COLUMN core.deals.closed_at IS 'When the deal was closed (won or lost); empty while open.';
COMMENT ON COLUMN core.deals.is_won IS 'True when won, false when lost, empty while open.';
COMMENT ON COLUMN core.deals.source_system IS 'Source system name.';
COMMENT ON COLUMN core.deals.attributes IS 'Every other source field, by its source name.';

CREATE TABLE core.lifecycle_history (
    lead_id         bigint      NOT NULL REFERENCES core.leads (lead_id),
    stage           text        NOT NULL,
    entered_at      timestamptz NOT NULL,
    source_system   text        NOT NULL,
    PRIMARY KEY (lead_id, stage, source_system)
);
COMMENT ON TABLE core.lifecycle_history IS 'When each lead first entered each lifecycle stage, per system that says so (a CRM, or the scoring run for MQL crossings).';
COMMENT ON COLUMN core.lifecycle_history.lead_id IS 'Lead.';
COMMENT ON COLUMN core.lifecycle_history.stage IS 'Lifecycle stage entered.';
COMMENT ON COLUMN core.lifecycle_history.entered_at IS 'When the lead entered it (the earliest time seen).';
COMMENT ON COLUMN core.lifecycle_history.source_system IS 'System that recorded the entry (a source system, or "scoring").';

-- ---------------------------------------------------------------------------------------------
-- Read-only KPI role: it reads kpi.* and nothing else.
-- ---------------------------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kpi_reader') THEN
        CREATE ROLE kpi_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created concurrently by another warehouse on the same server
END $$;
GRANT USAGE ON SCHEMA kpi TO kpi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA kpi TO kpi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA kpi GRANT SELECT ON TABLES TO kpi_reader;
