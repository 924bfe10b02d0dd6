-- Nurturing: the enrollment ledger (who entered which scenario, when, and where it stands in the
-- marketing tool), every API call made for it, and the control-group outcome comparison.
-- Lead ids are not foreign keys: the core build may merge leads, and a ledger row must never block it.
-- The ledger is the only memory of what was sent: a row moves planned -> pushed -> confirmed ->
-- exiting -> exited (held-out rows: held_out -> exited) and never goes back, so a rerun reads it
-- and sends only what the tool does not have yet.

CREATE TABLE nurture.runs (
    run_id          text        PRIMARY KEY,
    as_of           timestamptz NOT NULL,
    dry_run         boolean     NOT NULL,
    planned         integer     NOT NULL DEFAULT 0,
    held_out        integer     NOT NULL DEFAULT 0,
    exits_planned   integer     NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
COMMENT ON TABLE nurture.runs IS 'One row per nurturing run (a DAG run or `smarketing nurture run`): the moment it planned for and what it planned.';
COMMENT ON COLUMN nurture.runs.run_id IS 'Airflow run id (or CLI run id).';
COMMENT ON COLUMN nurture.runs.as_of IS 'Moment the run planned for: scores, events and stages up to it.';
COMMENT ON COLUMN nurture.runs.dry_run IS 'True when the run only showed what it would do (nothing recorded in the ledger, no API call).';
COMMENT ON COLUMN nurture.runs.planned IS 'Enrollments the run planned (to push).';
COMMENT ON COLUMN nurture.runs.held_out IS 'Entries the run kept out as the control group.';
COMMENT ON COLUMN nurture.runs.exits_planned IS 'Enrollments the run decided to end.';
COMMENT ON COLUMN nurture.runs.started_at IS 'When the run started (wall clock).';
COMMENT ON COLUMN nurture.runs.finished_at IS 'When its last step (stats) finished.';

CREATE TABLE nurture.enrollments (
    enrollment_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id         bigint      NOT NULL,
    scenario_id     text        NOT NULL,
    cycle           integer     NOT NULL CHECK (cycle >= 1),
    arm             text        NOT NULL CHECK (arm IN ('enrolled', 'held_out')),
    state           text        NOT NULL CHECK (state IN
                                    ('planned', 'pushed', 'confirmed', 'exiting', 'exited', 'held_out', 'skipped')),
    target_system   text        NOT NULL,
    target_kind     text        NOT NULL CHECK (target_kind IN ('segment', 'campaign', 'list')),
    target_id       text        NOT NULL,
    source_system   text        NOT NULL,
    external_ref    text,
    matched         text        NOT NULL,
    score           numeric(12, 2),
    run_id          text        NOT NULL,
    planned_at      timestamptz NOT NULL,
    pushed_at       timestamptz,
    confirmed_at    timestamptz,
    exit_planned_at timestamptz,
    exited_at       timestamptz,
    exit_reason     text,
    skip_reason     text,
    attempts        integer     NOT NULL DEFAULT 0,
    exit_attempts   integer     NOT NULL DEFAULT 0,
    last_error      text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, scenario_id, cycle)
);
-- The traffic controller: a lead is in at most one scenario at a time (either arm).
CREATE UNIQUE INDEX enrollments_one_active ON nurture.enrollments (lead_id)
    WHERE state IN ('planned', 'pushed', 'confirmed', 'exiting', 'held_out');
-- No other index: each one costs the night's entries an insert, and push, confirm and the daily cap
-- read the ledger in one pass per target or run.
COMMENT ON TABLE nurture.enrollments IS 'The nurturing ledger: one row per lead, scenario and cycle (a re-entry after cooldown is a new cycle). planned -> pushed (the tool accepted the add) -> confirmed (membership read back) -> exiting (removal due) -> exited; held_out rows are the control group and are never sent; skipped rows were never sent (reason in skip_reason).';
COMMENT ON COLUMN nurture.enrollments.enrollment_id IS 'Ledger row id.';
COMMENT ON COLUMN nurture.enrollments.lead_id IS 'Lead (core.leads.lead_id).';
COMMENT ON COLUMN nurture.enrollments.scenario_id IS 'Scenario of the agreement (nurturing.scenarios[].id).';
COMMENT ON COLUMN nurture.enrollments.cycle IS 'Entry number of the lead into this scenario, from 1.';
COMMENT ON COLUMN nurture.enrollments.arm IS 'enrolled (sent to the tool) or held_out (control group: kept out by a hash of lead id and scenario).';
COMMENT ON COLUMN nurture.enrollments.state IS 'planned, pushed, confirmed, exiting (removal from the tool due), exited, held_out (control group, in the scenario on paper only) or skipped (never sent: see skip_reason).';
COMMENT ON COLUMN nurture.enrollments.target_system IS 'Marketing tool: mautic or hubspot.';
COMMENT ON COLUMN nurture.enrollments.target_kind IS 'segment or campaign (Mautic), list (HubSpot).';
COMMENT ON COLUMN nurture.enrollments.target_id IS 'Segment, campaign or list id in the tool.';
COMMENT ON COLUMN nurture.enrollments.source_system IS 'Source system whose record ids the tool knows (core.lead_sources.source_system).';
COMMENT ON COLUMN nurture.enrollments.external_ref IS 'The lead''s contact id in the tool (core.lead_sources.source_id); empty when the tool does not know the lead.';
COMMENT ON COLUMN nurture.enrollments.matched IS 'Why the lead entered: the scenario conditions it met, as text.';
COMMENT ON COLUMN nurture.enrollments.score IS 'The lead''s score when it entered.';
COMMENT ON COLUMN nurture.enrollments.run_id IS 'Nurturing run that planned it (nurture.runs).';
COMMENT ON COLUMN nurture.enrollments.planned_at IS 'Moment the entry was planned for (the run''s as_of): cooldowns, daily caps and outcome windows count from it.';
COMMENT ON COLUMN nurture.enrollments.pushed_at IS 'When the tool accepted the add (or a read-back found the lead already in).';
COMMENT ON COLUMN nurture.enrollments.confirmed_at IS 'When a membership read-back found the lead in the target.';
COMMENT ON COLUMN nurture.enrollments.exit_planned_at IS 'Moment the exit was decided (a run''s as_of).';
COMMENT ON COLUMN nurture.enrollments.exited_at IS 'When the lead left: the tool confirmed the removal, or (held out, never pushed) the exit was decided.';
COMMENT ON COLUMN nurture.enrollments.exit_reason IS 'Why it left: mql, sql, customer, unsubscribed, bounced, no_consent or deleted.';
COMMENT ON COLUMN nurture.enrollments.skip_reason IS 'Why a planned entry was never sent: not_in_target (the tool does not know the lead), or the eligibility rule that blocked it at push time (no_consent, unsubscribed, bounced, deleted, customer, sla_open).';
COMMENT ON COLUMN nurture.enrollments.attempts IS 'Add calls that carried this lead (an attempt whose outcome was unknown is settled by reading the membership back, never by sending again blindly).';
COMMENT ON COLUMN nurture.enrollments.exit_attempts IS 'Remove calls that carried this lead.';
COMMENT ON COLUMN nurture.enrollments.last_error IS 'Last failure of a call that carried this lead.';
COMMENT ON COLUMN nurture.enrollments.updated_at IS 'When the row last changed (wall clock).';

CREATE TABLE nurture.calls (
    call_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text        NOT NULL,
    target_system   text        NOT NULL,
    target_kind     text        NOT NULL,
    target_id       text        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('add', 'remove', 'read')),
    method          text        NOT NULL,
    path            text        NOT NULL,
    record_ids      text[]      NOT NULL,
    attempt         integer     NOT NULL,
    http_status     integer,
    outcome         text        NOT NULL CHECK (outcome IN ('sent', 'ok', 'refused', 'unknown', 'failed')),
    error           text,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz
);
CREATE INDEX calls_run_idx ON nurture.calls (run_id);
COMMENT ON TABLE nurture.calls IS 'Every API call nurturing made (written before the call goes out, completed when it returns): the audit of what was sent, and how a crash mid-call is recognised.';
COMMENT ON COLUMN nurture.calls.call_id IS 'Call id.';
COMMENT ON COLUMN nurture.calls.run_id IS 'Nurturing run that made it.';
COMMENT ON COLUMN nurture.calls.target_system IS 'mautic or hubspot.';
COMMENT ON COLUMN nurture.calls.target_kind IS 'segment, campaign or list.';
COMMENT ON COLUMN nurture.calls.target_id IS 'Segment, campaign or list id in the tool.';
COMMENT ON COLUMN nurture.calls.action IS 'add, remove, or read (a membership read-back page).';
COMMENT ON COLUMN nurture.calls.method IS 'HTTP method.';
COMMENT ON COLUMN nurture.calls.path IS 'API path (no credentials, no e-mail addresses).';
COMMENT ON COLUMN nurture.calls.record_ids IS 'Contact ids the call carried (empty for reads).';
COMMENT ON COLUMN nurture.calls.attempt IS 'Attempt number of this chunk within the run, from 1.';
COMMENT ON COLUMN nurture.calls.http_status IS 'HTTP status of the answer; empty when none came (dropped connection, timeout, crash).';
COMMENT ON COLUMN nurture.calls.outcome IS 'sent (left, no answer recorded yet: a crash), ok, refused (the tool did not apply it: 429 or a 4xx), unknown (it may have been applied: 5xx, dropped connection, malformed answer), failed (read errors).';
COMMENT ON COLUMN nurture.calls.error IS 'What went wrong, short (masked).';
COMMENT ON COLUMN nurture.calls.started_at IS 'When the call was recorded, just before it left.';
COMMENT ON COLUMN nurture.calls.finished_at IS 'When its answer (or failure) was recorded.';

CREATE TABLE nurture.scenario_outcomes (
    scenario_id        text        NOT NULL,
    cohort_month       date        NOT NULL,
    metric             text        NOT NULL CHECK (metric IN ('mql_30d', 'mql_60d', 'mql_90d', 'sql', 'won', 'unsubscribed')),
    enrolled           integer     NOT NULL,
    enrolled_hits      integer     NOT NULL,
    held_out           integer     NOT NULL,
    held_out_hits      integer     NOT NULL,
    enrolled_rate      double precision,
    held_out_rate      double precision,
    difference         double precision,
    ci_low             double precision,
    ci_high            double precision,
    computed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scenario_id, cohort_month, metric)
);
COMMENT ON TABLE nurture.scenario_outcomes IS 'Does a scenario work? Enrolled vs held-out leads of each scenario, by month of entry: share reaching each outcome, the difference, and its 95% interval (normal approximation for two proportions). Rebuilt by every run.';
COMMENT ON COLUMN nurture.scenario_outcomes.scenario_id IS 'Scenario (nurturing.scenarios[].id).';
COMMENT ON COLUMN nurture.scenario_outcomes.cohort_month IS 'Month the leads entered the scenario (first day).';
COMMENT ON COLUMN nurture.scenario_outcomes.metric IS 'mql_30d / mql_60d / mql_90d: became MQL within 30/60/90 days of entry; sql: reached an SQL stage after entry; won: a won deal closed after entry; unsubscribed: unsubscribed after entry.';
COMMENT ON COLUMN nurture.scenario_outcomes.enrolled IS 'Leads of the cohort that were enrolled (pushed to the tool) and whose outcome window has passed.';
COMMENT ON COLUMN nurture.scenario_outcomes.enrolled_hits IS 'Of those, leads that reached the outcome.';
COMMENT ON COLUMN nurture.scenario_outcomes.held_out IS 'Leads of the cohort held out (control group) whose outcome window has passed.';
COMMENT ON COLUMN nurture.scenario_outcomes.held_out_hits IS 'Of those, leads that reached the outcome.';
COMMENT ON COLUMN nurture.scenario_outcomes.enrolled_rate IS 'enrolled_hits / enrolled.';
COMMENT ON COLUMN nurture.scenario_outcomes.held_out_rate IS 'held_out_hits / held_out.';
COMMENT ON COLUMN nurture.scenario_outcomes.difference IS 'enrolled_rate - held_out_rate: the scenario''s effect (positive: it helped, except for unsubscribed).';
COMMENT ON COLUMN nurture.scenario_outcomes.ci_low IS 'Lower end of the 95% interval of the difference; empty when either arm is empty.';
COMMENT ON COLUMN nurture.scenario_outcomes.ci_high IS 'Upper end of the 95% interval of the difference.';
COMMENT ON COLUMN nurture.scenario_outcomes.computed_at IS 'When the row was computed.';
