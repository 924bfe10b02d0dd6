-- Data quality (Great Expectations): every validation run and the result of every expectation, raw
-- records held back from core (quarantine), the verdict on every landed batch, and the two views the core
-- build anti-joins so that nothing held reaches core. Every table and column carries a COMMENT.

-- Great Expectations validates flattened, typed copies of the records under check. They live in their own
-- schema, one unlogged table per validation and object, dropped when the validation ends.
CREATE SCHEMA IF NOT EXISTS dq_stage;
COMMENT ON SCHEMA dq_stage IS 'Scratch tables Great Expectations validates (typed copies of the records under check); emptied after each validation.';

-- ---------------------------------------------------------------------------------------------
-- dq.validation_runs / dq.expectation_results
-- ---------------------------------------------------------------------------------------------
CREATE TABLE dq.validation_runs (
    validation_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            text        NOT NULL,
    layer             text        NOT NULL CHECK (layer IN ('raw', 'core')),
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    batch_ids         bigint[]    NOT NULL DEFAULT '{}',
    rows_checked      bigint      NOT NULL DEFAULT 0,
    rows_quarantined  bigint      NOT NULL DEFAULT 0,
    rows_released     bigint      NOT NULL DEFAULT 0,
    critical_failures integer     NOT NULL DEFAULT 0,
    warnings          integer     NOT NULL DEFAULT 0,
    success           boolean     NOT NULL,
    summary           text        NOT NULL,
    data_docs_url     text,
    UNIQUE (run_id, layer)
);
COMMENT ON TABLE dq.validation_runs IS 'One row per validation of a pipeline run and layer (raw batches before the core build, core tables after it); rerunning a run replaces its row.';
COMMENT ON COLUMN dq.validation_runs.validation_run_id IS 'Validation run id; dq.expectation_results reference it.';
COMMENT ON COLUMN dq.validation_runs.run_id IS 'Airflow run id (or CLI run id) the validation belongs to.';
COMMENT ON COLUMN dq.validation_runs.layer IS 'What was validated: raw (newly landed batches and quarantined records) or core (the core tables).';
COMMENT ON COLUMN dq.validation_runs.started_at IS 'When the validation started.';
COMMENT ON COLUMN dq.validation_runs.finished_at IS 'When the validation finished.';
COMMENT ON COLUMN dq.validation_runs.batch_ids IS 'Raw batches (ops.load_batches) validated by this run; empty for core.';
COMMENT ON COLUMN dq.validation_runs.rows_checked IS 'Rows checked (raw records, or core rows).';
COMMENT ON COLUMN dq.validation_runs.rows_quarantined IS 'Raw records sent to dq.quarantine by this run.';
COMMENT ON COLUMN dq.validation_runs.rows_released IS 'Quarantined records released by this run (fixed at the source, or replaced by a newer good version).';
COMMENT ON COLUMN dq.validation_runs.critical_failures IS 'Failed critical checks.';
COMMENT ON COLUMN dq.validation_runs.warnings IS 'Failed warning checks.';
COMMENT ON COLUMN dq.validation_runs.success IS 'Whether the gate passed: false stops the downstream tasks of the run.';
COMMENT ON COLUMN dq.validation_runs.summary IS 'What failed and how many rows, or that everything passed.';
COMMENT ON COLUMN dq.validation_runs.data_docs_url IS 'Great Expectations Data Docs page of the run (a file URL), when Data Docs are built.';

CREATE TABLE dq.expectation_results (
    validation_run_id bigint      NOT NULL REFERENCES dq.validation_runs (validation_run_id) ON DELETE CASCADE,
    suite             text        NOT NULL,
    source_system     text        NOT NULL DEFAULT '',
    scope             text        NOT NULL,
    check_id          text        NOT NULL,
    expectation       text        NOT NULL,
    column_name       text,
    severity          text        NOT NULL CHECK (severity IN ('critical', 'warning')),
    success           boolean     NOT NULL,
    element_count     bigint,
    unexpected_count  bigint,
    unexpected_percent double precision,
    observed_value    jsonb,
    sample_keys       text[]      NOT NULL DEFAULT '{}',
    exception         text,
    kwargs            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (validation_run_id, suite, source_system, scope, check_id)
);
COMMENT ON TABLE dq.expectation_results IS 'Result of every expectation of every validation run: which check, how it went, how many rows failed.';
COMMENT ON COLUMN dq.expectation_results.validation_run_id IS 'Validation run (dq.validation_runs).';
COMMENT ON COLUMN dq.expectation_results.suite IS 'Expectation suite: raw.<object>, raw.batches, raw.freshness or core.<table>.';
COMMENT ON COLUMN dq.expectation_results.source_system IS 'Source system whose records were checked; empty for core tables and cross-source suites.';
COMMENT ON COLUMN dq.expectation_results.scope IS 'What was checked: "batches 12,13" (new batches), "recheck" (records in quarantine), "table" (a core table), "sources".';
COMMENT ON COLUMN dq.expectation_results.check_id IS 'Stable check name within the suite (e.g. email_well_formed); severities are configured by it.';
COMMENT ON COLUMN dq.expectation_results.expectation IS 'Great Expectations expectation type (e.g. expect_column_values_to_match_regex).';
COMMENT ON COLUMN dq.expectation_results.column_name IS 'Column the expectation is about, when it is about one.';
COMMENT ON COLUMN dq.expectation_results.severity IS 'critical (failing rows are quarantined; a failing table check stops downstream work) or warning (recorded only).';
COMMENT ON COLUMN dq.expectation_results.success IS 'Whether the expectation held.';
COMMENT ON COLUMN dq.expectation_results.element_count IS 'Rows the expectation looked at.';
COMMENT ON COLUMN dq.expectation_results.unexpected_count IS 'Rows that broke the expectation (row-level expectations).';
COMMENT ON COLUMN dq.expectation_results.unexpected_percent IS 'Share of the non-empty values that broke the expectation, in percent.';
COMMENT ON COLUMN dq.expectation_results.observed_value IS 'Observed value of a table-level expectation (row count, maximum, ...).';
COMMENT ON COLUMN dq.expectation_results.sample_keys IS 'Up to 20 keys of failing rows ("<source_system>:<source id>" or the core key), e-mail addresses masked.';
COMMENT ON COLUMN dq.expectation_results.exception IS 'Error raised while evaluating the expectation, if any (counts as a failure).';
COMMENT ON COLUMN dq.expectation_results.kwargs IS 'Parameters of the expectation (column, value set, bounds, ...).';

-- ---------------------------------------------------------------------------------------------
-- dq.quarantine: raw records held back from core
-- ---------------------------------------------------------------------------------------------
CREATE TABLE dq.quarantine (
    table_name         text        NOT NULL,
    batch_id           bigint      NOT NULL,
    record_no          integer     NOT NULL,
    source_system      text        NOT NULL,
    source_id          text        NOT NULL,
    failed_checks      text[]      NOT NULL,
    payload            jsonb       NOT NULL,
    run_id             text        NOT NULL,
    validation_run_id  bigint      NOT NULL,
    quarantined_at     timestamptz NOT NULL DEFAULT now(),
    last_checked_run_id text       NOT NULL,
    last_checked_at    timestamptz NOT NULL DEFAULT now(),
    status             text        NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'released')),
    release_reason     text        CHECK (release_reason IN ('fixed', 'superseded')),
    released_at        timestamptz,
    released_run_id    text,
    released_batch_id  bigint,
    PRIMARY KEY (table_name, batch_id, record_no),
    CHECK ((status = 'held') = (released_at IS NULL))
);
CREATE INDEX quarantine_held_idx ON dq.quarantine (table_name, source_system) WHERE status = 'held';
CREATE INDEX quarantine_record_idx ON dq.quarantine (table_name, source_system, source_id);
COMMENT ON TABLE dq.quarantine IS 'Raw records that failed a critical check, held back from core. Not shown to the teams: the payload may hold personal data. A released record is fixed (re-landed as a new batch) or replaced by a newer good version; the quarantined copy itself never reaches core.';
COMMENT ON COLUMN dq.quarantine.table_name IS 'Raw table of the record (raw.leads, raw.marketing_events, ...).';
COMMENT ON COLUMN dq.quarantine.batch_id IS 'Batch that landed the record (ops.load_batches).';
COMMENT ON COLUMN dq.quarantine.record_no IS 'Position of the record in its batch.';
COMMENT ON COLUMN dq.quarantine.source_system IS 'Source system of the record.';
COMMENT ON COLUMN dq.quarantine.source_id IS 'Record id in the source system (the key to look it up there).';
COMMENT ON COLUMN dq.quarantine.failed_checks IS 'Critical checks the record failed at its last check (check ids of dq.expectation_results).';
COMMENT ON COLUMN dq.quarantine.payload IS 'The record as landed (personal data: never copied into kpi.* nor into logs).';
COMMENT ON COLUMN dq.quarantine.run_id IS 'Run that quarantined the record.';
COMMENT ON COLUMN dq.quarantine.validation_run_id IS 'Validation run that quarantined the record (dq.validation_runs).';
COMMENT ON COLUMN dq.quarantine.quarantined_at IS 'When the record was quarantined.';
COMMENT ON COLUMN dq.quarantine.last_checked_run_id IS 'Last run that checked the record again.';
COMMENT ON COLUMN dq.quarantine.last_checked_at IS 'When the record was last checked.';
COMMENT ON COLUMN dq.quarantine.status IS 'held (waiting for a fix) or released.';
COMMENT ON COLUMN dq.quarantine.release_reason IS 'fixed: passes every critical check now (e.g. its lead arrived) and was re-landed; superseded: a newer version of the record passed.';
COMMENT ON COLUMN dq.quarantine.released_at IS 'When the record was released.';
COMMENT ON COLUMN dq.quarantine.released_run_id IS 'Run that released the record.';
COMMENT ON COLUMN dq.quarantine.released_batch_id IS 'Batch holding the version that goes to core instead: the re-landed copy (fixed) or the newer version (superseded).';

-- ---------------------------------------------------------------------------------------------
-- dq.batch_verdicts: the gate decision on every landed batch
-- ---------------------------------------------------------------------------------------------
CREATE TABLE dq.batch_verdicts (
    batch_id          bigint      PRIMARY KEY,
    table_name        text        NOT NULL,
    source_system     text        NOT NULL,
    verdict           text        NOT NULL CHECK (verdict IN ('passed', 'rejected', 'admitted')),
    row_count         bigint      NOT NULL,
    quarantined_rows  bigint      NOT NULL DEFAULT 0,
    warnings          integer     NOT NULL DEFAULT 0,
    reasons           text[]      NOT NULL DEFAULT '{}',
    run_id            text        NOT NULL,
    validation_run_id bigint,
    decided_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX batch_verdicts_rejected_idx ON dq.batch_verdicts (batch_id) WHERE verdict = 'rejected';
COMMENT ON TABLE dq.batch_verdicts IS 'Gate decision on every validated raw batch: passed (its good records go on), rejected (held back whole: critical batch check failed or too many records quarantined) or admitted (rejected, then let through by an engineer).';
COMMENT ON COLUMN dq.batch_verdicts.batch_id IS 'Batch (ops.load_batches).';
COMMENT ON COLUMN dq.batch_verdicts.table_name IS 'Raw table of the batch.';
COMMENT ON COLUMN dq.batch_verdicts.source_system IS 'Source system of the batch.';
COMMENT ON COLUMN dq.batch_verdicts.verdict IS 'passed, rejected or admitted.';
COMMENT ON COLUMN dq.batch_verdicts.row_count IS 'Records in the batch.';
COMMENT ON COLUMN dq.batch_verdicts.quarantined_rows IS 'Records of the batch quarantined when it was validated.';
COMMENT ON COLUMN dq.batch_verdicts.warnings IS 'Warning checks that failed on the batch.';
COMMENT ON COLUMN dq.batch_verdicts.reasons IS 'Why the batch was rejected (or admitted), one sentence each.';
COMMENT ON COLUMN dq.batch_verdicts.run_id IS 'Run that decided the verdict.';
COMMENT ON COLUMN dq.batch_verdicts.validation_run_id IS 'Validation run that decided it (dq.validation_runs); empty for release batches, which are checked before they are landed.';
COMMENT ON COLUMN dq.batch_verdicts.decided_at IS 'When the verdict was decided.';

-- ---------------------------------------------------------------------------------------------
-- What the core build skips
-- ---------------------------------------------------------------------------------------------
CREATE VIEW dq.held_records AS
SELECT table_name, batch_id, record_no FROM dq.quarantine;
COMMENT ON VIEW dq.held_records IS 'Raw records the core build must skip: every record ever quarantined (a released record goes to core as its re-landed copy or its newer version, never as itself).';
COMMENT ON COLUMN dq.held_records.table_name IS 'Raw table of the record (raw.<object>).';
COMMENT ON COLUMN dq.held_records.batch_id IS 'Batch of the record.';
COMMENT ON COLUMN dq.held_records.record_no IS 'Position of the record in its batch.';

CREATE VIEW dq.rejected_batches AS
SELECT batch_id, table_name FROM dq.batch_verdicts WHERE verdict = 'rejected';
COMMENT ON VIEW dq.rejected_batches IS 'Raw batches the core build must skip whole (rejected by the gate and not admitted).';
COMMENT ON COLUMN dq.rejected_batches.batch_id IS 'Batch (ops.load_batches).';
COMMENT ON COLUMN dq.rejected_batches.table_name IS 'Raw table of the batch.';

-- ---------------------------------------------------------------------------------------------
-- Parsing timestamps without failing the statement
-- ---------------------------------------------------------------------------------------------
-- An ISO 8601 date-time with an explicit UTC offset, or NULL. Validation first casts with a fast LIKE
-- guard and only falls back to this function (one subtransaction per value) when a batch holds a value
-- the guard lets through but the cast refuses, such as 2026-02-30.
CREATE FUNCTION dq.to_utc_timestamp(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF value LIKE '____-__-__T__:__:__%' AND (value LIKE '%Z' OR value LIKE '%+__:__' OR value LIKE '%-__:__') THEN
        RETURN value::timestamptz;
    END IF;
    RETURN NULL;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_time_zone_displacement_value
          OR invalid_text_representation OR numeric_value_out_of_range THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION dq.to_utc_timestamp(text) IS 'ISO 8601 date-time with an explicit offset (Z or +HH:MM) as timestamptz; NULL when the text is not one.';
