"""Validate the core tables after the core build, before the `core` asset tells scoring, SLA and KPIs.

Core rows are not quarantined (they are already what downstream reads): any failed critical check
fails the gate, so the asset is not emitted and nothing downstream runs on the build; warnings are
recorded with sample keys. Raw validation keeps most problems out of core; these checks catch what
only the merged model shows (a deal closed before its lead first appeared, a persona the agreement
no longer has, an owner missing from core.owners).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from smarketing.quality import docs, results, staging
from smarketing.quality.checks import check_severity_overrides
from smarketing.quality.corechecks import CORE_TABLES, core_checks
from smarketing.quality.engine import WORK_MEM, GxSession, SuiteRun
from smarketing.quality.expectations import Check, Context
from smarketing.quality.gate import QualityCheckError, QualityGateFailed, ValidationReport, describe
from smarketing.quality.quarantine import sample_keys
from smarketing.quality.settings import QualitySettings, load_settings
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)


def validate_core(
    dsn: str,
    *,
    run_id: str,
    settings: QualitySettings | None = None,
    agreement: Any | None = None,
    raise_on_failure: bool = True,
) -> ValidationReport:
    settings = settings or load_settings()
    if agreement is None:
        from smarketing.config import load_config

        agreement = load_config()
    started = datetime.now(UTC)
    ctx = Context.from_agreement(settings, agreement, started)
    check_severity_overrides(ctx)
    token = uuid.uuid4().hex[:10]
    runs: list[SuiteRun] = []
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        vr_id = results.begin(conn, run_id=run_id, layer="core", started_at=started)
        report = ValidationReport(run_id=run_id, layer="core", validation_run_id=vr_id)
        session = GxSession(dsn, run_name=run_id, run_time=started)
        stages = staging.Stages(conn, token)
        try:
            for table, key in CORE_TABLES.items():
                checks = core_checks(table, ctx)
                if checks:
                    with stages.table(f"core_{table}") as name:
                        runs.append(_validate_table(conn, session, table, key, name, checks, report, vr_id))
        finally:
            stages.drop_all()
            session.close()
        if settings.data_docs.enabled:
            report.data_docs = docs.publish_safely(settings.data_docs, runs)
        report.finalize()
        results.finish(
            conn,
            vr_id,
            results.RunTotals(
                batch_ids=[],
                rows_checked=report.rows_checked,
                rows_quarantined=0,
                rows_released=0,
                critical_failures=len(report.failures),
                warnings=len(report.warnings),
                success=report.success,
                summary=report.summary,
                data_docs_url=report.data_docs.get("index"),
            ),
            datetime.now(UTC),
        )
    if not report.success and raise_on_failure:
        raise QualityGateFailed(report)  # said once, where it is caught: the CLI line, the task failure
    (log.info if report.success else log.error)("%s", report.summary)
    return report


def _validate_table(
    conn: psycopg.Connection,
    session: GxSession,
    table: str,
    key: str,
    name: str,
    checks: list[Check],
    report: ValidationReport,
    vr_id: int,
) -> SuiteRun:
    """Stage core.<table> as `name`, run its suite, note failures in `report` and record the results."""
    rows = staging.stage_core(conn, table=table, name=name)
    run = session.validate(
        suite=f"core.{table}",
        source_system="",
        scope="table",
        stage=name,
        rows=rows,
        checks=checks,
        key_columns=(key,),
    )
    broken = [r for r in run.results if r.exception]
    if broken:
        raise QualityCheckError("; ".join(describe(run, r) for r in broken))
    report.rows_checked += rows
    for result in run.failures():
        if result.check.row_level:
            run.sample_keys[result.check.check_id] = sample_keys(conn, session, run, result, raw=False)
        target = report.failures if result.check.severity == "critical" else report.warnings
        target.append(describe(run, result))
    with conn.transaction():
        results.record(conn, vr_id, run)
    return run
