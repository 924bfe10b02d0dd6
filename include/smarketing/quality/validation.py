"""One validation run, raw or core: its connection, GX session, staged tables, runs and report.

`open_validation` does what both layers do around their checks: one autocommit connection with room
for large hash aggregates, a fresh row in dq.validation_runs, a GX session, staged tables dropped
whatever happens, Data Docs, the summary and the run's totals recorded at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from smarketing.quality import docs, results, staging
from smarketing.quality.checks import check_severity_overrides
from smarketing.quality.engine import WORK_MEM, GxSession, SuiteRun
from smarketing.quality.expectations import Context
from smarketing.quality.gate import QualityCheckError, ValidationReport, describe
from smarketing.quality.settings import QualitySettings, load_settings
from smarketing.warehouse.connection import connect


@dataclass
class Validation:
    """What every step of one validation works with; `runs` are its suite runs, in order."""

    conn: psycopg.Connection
    session: GxSession
    ctx: Context
    stages: staging.Stages
    report: ValidationReport
    runs: list[SuiteRun] = field(default_factory=list)

    @property
    def vr_id(self) -> int:
        """The id of this validation in dq.validation_runs."""
        return self.report.validation_run_id

    def check(self, **suite_run: Any) -> SuiteRun:
        """Run a suite on a staged table (the arguments of `GxSession.validate`) and keep the run.

        Raises QualityCheckError when an expectation could not be evaluated (the data were not checked).
        """
        run = self.session.validate(**suite_run)
        broken = [r for r in run.results if r.exception]
        if broken:
            raise QualityCheckError("; ".join(describe(run, r) for r in broken))
        self.runs.append(run)
        return run


@contextmanager
def open_validation(
    dsn: str,
    *,
    run_id: str,
    layer: str,
    settings: QualitySettings | None,
    agreement: Any | None,
    lock_key: int | None = None,
) -> Iterator[Validation]:
    """A validation of `layer` ("raw" or "core") for `run_id`, finished and recorded when the block ends.

    `settings` / `agreement`: loaded from their files when None. `lock_key`: an advisory lock held for
    the whole validation (one raw validation at a time). Failed severity overrides raise before any
    database work. The block fills `report`; on leaving, Data Docs are built (when enabled), the report
    is finalized and dq.validation_runs gets its totals.
    """
    settings = settings or load_settings()
    if agreement is None:
        from smarketing.config import load_config

        agreement = load_config()
    started = datetime.now(UTC)
    ctx = Context.from_agreement(settings, agreement, started)
    check_severity_overrides(ctx)
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        if lock_key is not None:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        staging.drop_stale_stages(conn)
        vr_id = results.begin(conn, run_id=run_id, layer=layer, started_at=started)
        report = ValidationReport(run_id=run_id, layer=layer, validation_run_id=vr_id)
        with report.timed("session"):
            session = GxSession(dsn, run_name=run_id, run_time=started)
        validation = Validation(conn, session, ctx, staging.Stages(conn, uuid.uuid4().hex[:10]), report)
        try:
            yield validation
        finally:
            validation.stages.drop_all()
            session.close()
        if settings.data_docs.enabled:
            with report.timed("docs"):
                report.data_docs = docs.publish_safely(settings.data_docs, validation.runs)
        report.finalize()
        critical = sum(1 for run in validation.runs for r in run.failures("critical"))
        results.finish(conn, report, critical_failures=critical)
