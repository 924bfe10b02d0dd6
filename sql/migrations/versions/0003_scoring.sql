-- Lead scoring: the models that ran, current scores with their per-rule explanation, daily history,
-- MQL crossings, account rollup, the engine's incremental state and the CRM write-back ledger.
-- Every table and column carries a COMMENT: BI tools show it to the teams. Lead ids are not foreign keys:
-- the core build may merge leads, and a score must never block it.

-- ---------------------------------------------------------------------------------------------
-- Models and runs
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.models (
    model_version   text        NOT NULL,
    config_hash     text        NOT NULL,
    activated_at    timestamptz NOT NULL DEFAULT now(),
    definition      jsonb       NOT NULL,
    PRIMARY KEY (model_version, config_hash)
);
COMMENT ON TABLE scoring.models IS 'Every scoring model that has scored leads: the agreement''s scoring.version, a hash of its rules, when it first ran.';
COMMENT ON COLUMN scoring.models.model_version IS 'scoring.version from config/smarketing.yaml.';
COMMENT ON COLUMN scoring.models.config_hash IS 'Hash of the compiled rules, lists and MQL rule: a new hash triggers a full rescore.';
COMMENT ON COLUMN scoring.models.activated_at IS 'When a run first scored with this model.';
COMMENT ON COLUMN scoring.models.definition IS 'The compiled model (profiles, rules, grades, MQL rule) as JSON.';

CREATE TABLE scoring.rules (
    config_hash     text        NOT NULL,
    model_version   text        NOT NULL,
    profile_id      text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('fit', 'engagement')),
    rule_id         text        NOT NULL,
    rule_no         smallint,
    description     text        NOT NULL,
    points          numeric(12, 2) NOT NULL,
    cap             numeric(12, 2),
    max_per_day     integer,
    PRIMARY KEY (config_hash, profile_id, kind, rule_id)
);
COMMENT ON TABLE scoring.rules IS 'The rules of each model, one row per profile and rule: what a rule id in scoring.contributions means.';
COMMENT ON COLUMN scoring.rules.config_hash IS 'Model (scoring.models.config_hash).';
COMMENT ON COLUMN scoring.rules.model_version IS 'Model version (scoring.models.model_version).';
COMMENT ON COLUMN scoring.rules.profile_id IS 'Score profile: "default" for the base rules, else scoring.profiles[].id.';
COMMENT ON COLUMN scoring.rules.kind IS 'fit (who the lead is) or engagement (what the lead did).';
COMMENT ON COLUMN scoring.rules.rule_id IS 'Rule id: the fit rule''s id, or the event type of an engagement rule.';
COMMENT ON COLUMN scoring.rules.rule_no IS 'Position of an engagement rule in the engine''s state (scoring.rule_state.rule_no); empty for fit rules.';
COMMENT ON COLUMN scoring.rules.description IS 'The rule in words: field and test, or event type and filter.';
COMMENT ON COLUMN scoring.rules.points IS 'Points per match (fit) or per counted event before fading (engagement).';
COMMENT ON COLUMN scoring.rules.cap IS 'Most points the engagement rule adds (or removes) in total; empty: no cap.';
COMMENT ON COLUMN scoring.rules.max_per_day IS 'Events of the rule counted per lead and UTC day at most; empty: all.';

CREATE TABLE scoring.runs (
    run_id          text        PRIMARY KEY,
    as_of           timestamptz NOT NULL,
    mode            text        NOT NULL CHECK (mode IN ('full', 'incremental')),
    model_version   text        NOT NULL,
    config_hash     text        NOT NULL,
    shard_count     integer     NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    stats           jsonb       NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE scoring.runs IS 'Scoring runs: which model scored as of when, fully or incrementally, and what it wrote.';
COMMENT ON COLUMN scoring.runs.run_id IS 'Airflow run id (or CLI run id).';
COMMENT ON COLUMN scoring.runs.as_of IS 'Reference time of the scores: events after it are not counted, fading is computed to it.';
COMMENT ON COLUMN scoring.runs.mode IS 'full: every lead scored from its whole history; incremental: yesterday''s state plus what changed.';
COMMENT ON COLUMN scoring.runs.model_version IS 'Model version used.';
COMMENT ON COLUMN scoring.runs.config_hash IS 'Model hash used.';
COMMENT ON COLUMN scoring.runs.shard_count IS 'Number of lead-id shards the run was split into.';
COMMENT ON COLUMN scoring.runs.started_at IS 'When the run was planned.';
COMMENT ON COLUMN scoring.runs.finished_at IS 'When its last step committed; empty while running or after a failure.';
COMMENT ON COLUMN scoring.runs.stats IS 'Counts per shard and step (leads, events read, rows written).';

-- ---------------------------------------------------------------------------------------------
-- Current scores and their explanation
-- ---------------------------------------------------------------------------------------------
-- The three tables below are rewritten per shard every run (delete, then COPY, in one transaction):
-- a plain index instead of a primary key spares every re-inserted row a uniqueness check against the
-- rows deleted a moment earlier (three times faster on a night). The writer keeps one row per key.
CREATE TABLE scoring.lead_scores (
    lead_id          bigint         NOT NULL,
    fit              integer        NOT NULL,
    engagement       numeric(12, 2) NOT NULL,
    total            numeric(12, 2) NOT NULL,
    grade            text,
    engagement_band  text,
    priority         text,
    is_mql           boolean        NOT NULL,
    profile_id       text           NOT NULL,
    model_version    text           NOT NULL,
    config_hash      text           NOT NULL,
    as_of            timestamptz    NOT NULL,
    scored_at        timestamptz    NOT NULL,
    run_id           text           NOT NULL,
    history_on       date           NOT NULL
);
CREATE INDEX lead_scores_lead_idx ON scoring.lead_scores (lead_id);
COMMENT ON TABLE scoring.lead_scores IS 'The current score of every lead (exactly one row per lead, its best profile). Why a lead has its score: scoring.contributions.';
COMMENT ON COLUMN scoring.lead_scores.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.lead_scores.fit IS 'Fit points: who the lead is (sum of the matching fit rules).';
COMMENT ON COLUMN scoring.lead_scores.engagement IS 'Engagement points: what the lead did, faded to as_of, capped per rule, never below the floor.';
COMMENT ON COLUMN scoring.lead_scores.total IS 'The score: fit + engagement. vocabulary.mql.min_score and SLA tiers compare with it.';
COMMENT ON COLUMN scoring.lead_scores.grade IS 'Grade from the fit points (scoring.grades, A best); empty below the lowest threshold.';
COMMENT ON COLUMN scoring.lead_scores.engagement_band IS 'Engagement band from scoring.engagement_bands (1 hottest); empty when none is configured or reached.';
COMMENT ON COLUMN scoring.lead_scores.priority IS 'Fit x engagement matrix cell: grade and band (A1 best), empty without both.';
COMMENT ON COLUMN scoring.lead_scores.is_mql IS 'Whether the lead meets the MQL rule (vocabulary.mql) now.';
COMMENT ON COLUMN scoring.lead_scores.profile_id IS 'Profile the score comes from: one meeting the MQL rule if any, else the highest total ("default" = base rules).';
COMMENT ON COLUMN scoring.lead_scores.model_version IS 'scoring.version of the model that computed it.';
COMMENT ON COLUMN scoring.lead_scores.config_hash IS 'Hash of that model (scoring.models).';
COMMENT ON COLUMN scoring.lead_scores.as_of IS 'Reference time: events after it are not counted yet; fading is computed to it.';
COMMENT ON COLUMN scoring.lead_scores.scored_at IS 'When the row was written.';
COMMENT ON COLUMN scoring.lead_scores.run_id IS 'Scoring run that wrote it (scoring.runs).';
COMMENT ON COLUMN scoring.lead_scores.history_on IS 'Day of the lead''s latest row in scoring.score_history (the values there equal these).';

CREATE TABLE scoring.profile_scores (
    lead_id          bigint         NOT NULL,
    profile_id       text           NOT NULL,
    fit              integer        NOT NULL,
    engagement       numeric(12, 2) NOT NULL,
    total            numeric(12, 2) NOT NULL,
    grade            text,
    is_mql           boolean        NOT NULL
);
CREATE INDEX profile_scores_lead_idx ON scoring.profile_scores (lead_id);
COMMENT ON TABLE scoring.profile_scores IS 'Every lead''s score under every profile (one row per lead and profile), when the agreement defines scoring.profiles (empty otherwise).';
COMMENT ON COLUMN scoring.profile_scores.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.profile_scores.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.profile_scores.fit IS 'Fit points under the profile.';
COMMENT ON COLUMN scoring.profile_scores.engagement IS 'Engagement points under the profile.';
COMMENT ON COLUMN scoring.profile_scores.total IS 'fit + engagement under the profile.';
COMMENT ON COLUMN scoring.profile_scores.grade IS 'Grade from the profile''s fit points.';
COMMENT ON COLUMN scoring.profile_scores.is_mql IS 'Whether the lead meets the MQL rule under the profile.';

CREATE TABLE scoring.contributions (
    lead_id          bigint         NOT NULL,
    profile_id       text           NOT NULL,
    kind             text           NOT NULL CHECK (kind IN ('fit', 'engagement', 'floor')),
    rule_id          text           NOT NULL,
    points           numeric(12, 2) NOT NULL
);
CREATE INDEX contributions_lead_idx ON scoring.contributions (lead_id);
COMMENT ON TABLE scoring.contributions IS 'Why a lead has its score: exactly one row per lead, profile, kind and rule that added (or removed) points. They add up to scoring.lead_scores.total.';
COMMENT ON COLUMN scoring.contributions.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.contributions.profile_id IS 'Profile ("default" = base rules).';
COMMENT ON COLUMN scoring.contributions.kind IS 'fit, engagement, or floor (what the engagement floor added back).';
COMMENT ON COLUMN scoring.contributions.rule_id IS 'Rule id (scoring.rules): a fit rule id or an event type.';
COMMENT ON COLUMN scoring.contributions.points IS 'Points the rule adds now (engagement: faded and capped).';

-- ---------------------------------------------------------------------------------------------
-- History and MQL crossings
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.score_history (
    lead_id          bigint         NOT NULL,
    model_version    text           NOT NULL,
    scored_on        date           NOT NULL,
    as_of            timestamptz    NOT NULL,
    fit              integer        NOT NULL,
    engagement       numeric(12, 2) NOT NULL,
    total            numeric(12, 2) NOT NULL,
    grade            text,
    is_mql           boolean        NOT NULL,
    profile_id       text           NOT NULL,
    PRIMARY KEY (lead_id, model_version, scored_on)
);
CREATE INDEX score_history_day_idx ON scoring.score_history (scored_on);
COMMENT ON TABLE scoring.score_history IS 'A lead''s score on each day it changed (per model version): the score on any day is the latest row on or before it.';
COMMENT ON COLUMN scoring.score_history.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.score_history.model_version IS 'Model version that computed it.';
COMMENT ON COLUMN scoring.score_history.scored_on IS 'UTC day of the run''s reference time.';
COMMENT ON COLUMN scoring.score_history.as_of IS 'Reference time of the run that wrote the row.';
COMMENT ON COLUMN scoring.score_history.fit IS 'Fit points.';
COMMENT ON COLUMN scoring.score_history.engagement IS 'Engagement points.';
COMMENT ON COLUMN scoring.score_history.total IS 'fit + engagement.';
COMMENT ON COLUMN scoring.score_history.grade IS 'Grade.';
COMMENT ON COLUMN scoring.score_history.is_mql IS 'Whether the lead met the MQL rule.';
COMMENT ON COLUMN scoring.score_history.profile_id IS 'Profile the score came from.';

CREATE TABLE scoring.mql_crossings (
    lead_id          bigint         NOT NULL,
    model_version    text           NOT NULL,
    crossed_at       timestamptz    NOT NULL,
    total            numeric(12, 2) NOT NULL,
    grade            text,
    profile_id       text           NOT NULL,
    run_id           text           NOT NULL,
    is_first         boolean        NOT NULL,
    PRIMARY KEY (lead_id, model_version)
);
CREATE INDEX mql_crossings_time_idx ON scoring.mql_crossings (crossed_at);
COMMENT ON TABLE scoring.mql_crossings IS 'The first time each lead met the MQL rule under each model version: the hand-over to Sales (also in core.lifecycle_history, source "scoring").';
COMMENT ON COLUMN scoring.mql_crossings.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.mql_crossings.model_version IS 'Model version under which the lead qualified.';
COMMENT ON COLUMN scoring.mql_crossings.crossed_at IS 'Reference time of the first run that found the lead qualified.';
COMMENT ON COLUMN scoring.mql_crossings.total IS 'Score at that moment.';
COMMENT ON COLUMN scoring.mql_crossings.grade IS 'Grade at that moment.';
COMMENT ON COLUMN scoring.mql_crossings.profile_id IS 'Profile that qualified the lead.';
COMMENT ON COLUMN scoring.mql_crossings.run_id IS 'Scoring run that found it.';
COMMENT ON COLUMN scoring.mql_crossings.is_first IS 'True when the lead had not qualified under an earlier model version (a new MQL, not a re-qualification after a model change).';

-- ---------------------------------------------------------------------------------------------
-- Account rollup
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.account_scores (
    company_id       bigint         PRIMARY KEY,
    leads            integer        NOT NULL,
    engaged_leads    integer        NOT NULL,
    mql_leads        integer        NOT NULL,
    best_total       numeric(12, 2) NOT NULL,
    best_grade       text,
    total_engagement numeric(14, 2) NOT NULL,
    top_lead_id      bigint         NOT NULL,
    model_version    text           NOT NULL,
    as_of            timestamptz    NOT NULL
);
COMMENT ON TABLE scoring.account_scores IS 'Scores rolled up per company (account-based view): how many of its leads engage or qualify, and its best lead.';
COMMENT ON COLUMN scoring.account_scores.company_id IS 'Company (core.companies.company_id).';
COMMENT ON COLUMN scoring.account_scores.leads IS 'Scored leads of the company.';
COMMENT ON COLUMN scoring.account_scores.engaged_leads IS 'Leads with positive engagement points.';
COMMENT ON COLUMN scoring.account_scores.mql_leads IS 'Leads meeting the MQL rule now.';
COMMENT ON COLUMN scoring.account_scores.best_total IS 'Highest lead score of the company.';
COMMENT ON COLUMN scoring.account_scores.best_grade IS 'Best lead grade of the company.';
COMMENT ON COLUMN scoring.account_scores.total_engagement IS 'Sum of the engagement points of its leads: the buying committee''s activity.';
COMMENT ON COLUMN scoring.account_scores.top_lead_id IS 'Lead with the highest score.';
COMMENT ON COLUMN scoring.account_scores.model_version IS 'Model version of the scores.';
COMMENT ON COLUMN scoring.account_scores.as_of IS 'Reference time of the scores.';

-- ---------------------------------------------------------------------------------------------
-- Engine state for incremental nights
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.rule_state (
    lead_id          bigint         NOT NULL,
    rule_no          smallint       NOT NULL,
    value            double precision NOT NULL,
    as_of            timestamptz    NOT NULL,
    PRIMARY KEY (lead_id, rule_no)
);
COMMENT ON TABLE scoring.rule_state IS 'Engine state: each lead''s uncapped, faded sum per engagement rule at as_of; rescaled to a later time by 2^(-elapsed/half-life).';
COMMENT ON COLUMN scoring.rule_state.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.rule_state.rule_no IS 'Engagement rule (scoring.rules.rule_no of the model in scoring.lead_scores.config_hash).';
COMMENT ON COLUMN scoring.rule_state.value IS 'Points of the rule at as_of, before the cap.';
COMMENT ON COLUMN scoring.rule_state.as_of IS 'Time the value is computed to.';

CREATE TABLE scoring.event_changes (
    seq              bigint         GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id          bigint         NOT NULL,
    event_id         text           NOT NULL,
    image            text           NOT NULL CHECK (image IN ('old', 'new')),
    event_type       text,
    occurred_at      timestamptz    NOT NULL,
    campaign_id      text,
    content_topic    text,
    attributes       jsonb,
    logged_at        timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX event_changes_lead_idx ON scoring.event_changes (lead_id, seq);
COMMENT ON TABLE scoring.event_changes IS 'Marketing events added, changed or removed at or before a lead''s last scoring time (late arrivals, corrections, merges): the next incremental run re-scores those days. Consumed rows are deleted.';
COMMENT ON COLUMN scoring.event_changes.seq IS 'Order of the change.';
COMMENT ON COLUMN scoring.event_changes.lead_id IS 'Lead the image belongs to.';
COMMENT ON COLUMN scoring.event_changes.event_id IS 'Event (core.marketing_events.event_id).';
COMMENT ON COLUMN scoring.event_changes.image IS 'old: the event as it was before the change (full copy); new: where it is now (lead and time only).';
COMMENT ON COLUMN scoring.event_changes.event_type IS 'Event type of the old image.';
COMMENT ON COLUMN scoring.event_changes.occurred_at IS 'Time of the image.';
COMMENT ON COLUMN scoring.event_changes.campaign_id IS 'Campaign of the old image.';
COMMENT ON COLUMN scoring.event_changes.content_topic IS 'Content topic of the old image.';
COMMENT ON COLUMN scoring.event_changes.attributes IS 'Attributes of the old image.';
COMMENT ON COLUMN scoring.event_changes.logged_at IS 'When the change was logged.';

-- Only changes the state already covers are logged: an event after the lead's last scoring time is
-- read by the next run anyway, and a lead never scored is scored from its whole history.
CREATE FUNCTION scoring.log_event_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes (lead_id, event_id, image, occurred_at)
    SELECT n.lead_id, n.event_id, 'new', n.occurred_at
    FROM new_rows n JOIN scoring.lead_scores s ON s.lead_id = n.lead_id
    WHERE n.occurred_at <= s.as_of;
    RETURN NULL;
END $$;

CREATE FUNCTION scoring.log_event_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes
           (lead_id, event_id, image, event_type, occurred_at, campaign_id, content_topic, attributes)
    SELECT o.lead_id, o.event_id, 'old', o.event_type, o.occurred_at, o.campaign_id, o.content_topic, o.attributes
    FROM old_rows o JOIN scoring.lead_scores s ON s.lead_id = o.lead_id
    WHERE o.occurred_at <= s.as_of;
    INSERT INTO scoring.event_changes (lead_id, event_id, image, occurred_at)
    SELECT n.lead_id, n.event_id, 'new', n.occurred_at
    FROM new_rows n JOIN scoring.lead_scores s ON s.lead_id = n.lead_id
    WHERE n.occurred_at <= s.as_of;
    RETURN NULL;
END $$;

CREATE FUNCTION scoring.log_event_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring.event_changes
           (lead_id, event_id, image, event_type, occurred_at, campaign_id, content_topic, attributes)
    SELECT o.lead_id, o.event_id, 'old', o.event_type, o.occurred_at, o.campaign_id, o.content_topic, o.attributes
    FROM old_rows o JOIN scoring.lead_scores s ON s.lead_id = o.lead_id
    WHERE o.occurred_at <= s.as_of;
    RETURN NULL;
END $$;

CREATE TRIGGER marketing_events_scoring_inserts AFTER INSERT ON core.marketing_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scoring.log_event_inserts();
CREATE TRIGGER marketing_events_scoring_updates AFTER UPDATE ON core.marketing_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scoring.log_event_updates();
CREATE TRIGGER marketing_events_scoring_deletes AFTER DELETE ON core.marketing_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scoring.log_event_deletes();
COMMENT ON FUNCTION scoring.log_event_inserts() IS 'Logs late marketing events (at or before the lead''s last scoring time) into scoring.event_changes.';
COMMENT ON FUNCTION scoring.log_event_updates() IS 'Logs changed marketing events already covered by a lead''s score into scoring.event_changes.';
COMMENT ON FUNCTION scoring.log_event_deletes() IS 'Logs removed marketing events already covered by a lead''s score into scoring.event_changes.';

-- ---------------------------------------------------------------------------------------------
-- Write-back to the CRM / marketing tool
-- ---------------------------------------------------------------------------------------------
CREATE TABLE scoring.writeback_batches (
    run_id           text           NOT NULL,
    system           text           NOT NULL,
    batch_no         integer        NOT NULL,
    api              text           NOT NULL CHECK (api IN ('hubspot', 'mautic')),
    method           text           NOT NULL,
    path             text           NOT NULL,
    record_count     integer        NOT NULL,
    payload          jsonb          NOT NULL,
    status           text           NOT NULL CHECK (status IN ('dry_run', 'planned', 'sent', 'failed')),
    created_at       timestamptz    NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    error            text,
    PRIMARY KEY (run_id, system, batch_no)
);
COMMENT ON TABLE scoring.writeback_batches IS 'Score, grade and stage updates for a source system, in the API''s batch shape, per run: planned, sent, failed or dry run only.';
COMMENT ON COLUMN scoring.writeback_batches.run_id IS 'Scoring run (scoring.runs).';
COMMENT ON COLUMN scoring.writeback_batches.system IS 'Source system written back to (core.lead_sources.source_system).';
COMMENT ON COLUMN scoring.writeback_batches.batch_no IS 'Batch number within the run and system, from 1.';
COMMENT ON COLUMN scoring.writeback_batches.api IS 'API shape: hubspot (CRM v3 batch update) or mautic (contacts batch edit).';
COMMENT ON COLUMN scoring.writeback_batches.method IS 'HTTP method of the request.';
COMMENT ON COLUMN scoring.writeback_batches.path IS 'API path of the request.';
COMMENT ON COLUMN scoring.writeback_batches.record_count IS 'Records in the batch.';
COMMENT ON COLUMN scoring.writeback_batches.payload IS 'Request body (record ids and the values written; no e-mail addresses).';
COMMENT ON COLUMN scoring.writeback_batches.status IS 'dry_run: recorded only; planned: to send; sent; failed (see error).';
COMMENT ON COLUMN scoring.writeback_batches.created_at IS 'When the batch was planned.';
COMMENT ON COLUMN scoring.writeback_batches.sent_at IS 'When the API accepted it.';
COMMENT ON COLUMN scoring.writeback_batches.error IS 'Why sending failed.';

CREATE TABLE scoring.writeback_state (
    system           text           NOT NULL,
    lead_id          bigint         NOT NULL,
    record_id        text           NOT NULL,
    score            integer        NOT NULL,
    grade            text,
    lifecycle_stage  text,
    pushed_at        timestamptz    NOT NULL,
    PRIMARY KEY (system, record_id)
);
COMMENT ON TABLE scoring.writeback_state IS 'What the source system was last sent for each of its records: only records whose values differ are sent again.';
COMMENT ON COLUMN scoring.writeback_state.system IS 'Source system.';
COMMENT ON COLUMN scoring.writeback_state.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN scoring.writeback_state.record_id IS 'The lead''s record id in that system.';
COMMENT ON COLUMN scoring.writeback_state.score IS 'Score sent (total, rounded).';
COMMENT ON COLUMN scoring.writeback_state.grade IS 'Grade sent.';
COMMENT ON COLUMN scoring.writeback_state.lifecycle_stage IS 'Lifecycle stage sent (marketingqualifiedlead once the lead qualified), empty if none.';
COMMENT ON COLUMN scoring.writeback_state.pushed_at IS 'When it was accepted.';
