"""Validate newly landed raw batches before the core build; quarantine, decide, release.

For one run: the new batches are checked as batches (not empty, usual volume) and every source and
object for freshness; then, object by object (referenced objects first), the new records of each
source system are staged and validated with their suite. Records failing a critical row-level check
go to dq.quarantine; a batch with a failed critical batch check, or with more quarantined records than
`gate.max_quarantine_share`, is rejected whole. Held records that a newer good version replaces, or
that pass now (their lead arrived, the agreement changed), are released. Each object is committed on
its own, so the references of the next object see its verdicts.

Rerunning a run re-validates the batches that run decided and replaces its results: nothing doubles.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from smarketing.quality import docs, quarantine, results, staging
from smarketing.quality.checks import (
    KEY_COLUMNS,
    OBJECT_ORDER,
    Context,
    attribute_columns,
    batch_checks,
    check_severity_overrides,
    freshness_checks,
    raw_checks,
)
from smarketing.quality.engine import WORK_MEM, CheckResult, GxSession, SuiteRun
from smarketing.quality.gate import QualityCheckError, QualityGateFailed, ValidationReport, describe
from smarketing.quality.settings import QualitySettings, load_settings
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

# Arbitrary constant, next to the landing (4_242_002) and core build (4_242_003) locks.
VALIDATION_LOCK_KEY = 4_242_004


def validate_raw(
    dsn: str,
    *,
    run_id: str,
    batch_ids: Sequence[int] | None = None,
    settings: QualitySettings | None = None,
    agreement: Any | None = None,
    raise_on_failure: bool = True,
) -> ValidationReport:
    """Validate the batches not validated yet (or `batch_ids` among them); raise QualityGateFailed
    when the gate fails (after everything is recorded), unless `raise_on_failure` is False."""
    settings = settings or load_settings()
    if agreement is None:
        from smarketing.config import load_config

        agreement = load_config()
    started = datetime.now(UTC)
    ctx = Context.from_agreement(settings, agreement, started)
    check_severity_overrides(ctx)
    token = uuid.uuid4().hex[:10]
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        # One raw validation at a time: two would pick the same pending batches.
        conn.execute("SELECT pg_advisory_lock(%s)", (VALIDATION_LOCK_KEY,))
        staging.drop_stale_stages(conn)
        stages = staging.Stages(conn, token)
        vr_id = results.begin(conn, run_id=run_id, layer="raw", started_at=started)
        report = ValidationReport(run_id=run_id, layer="raw", validation_run_id=vr_id)
        with report.timed("session"):
            session = GxSession(dsn, run_name=run_id, run_time=started)
        runs: list[SuiteRun] = []
        try:
            _reset_rerun(conn, run_id, batch_ids)
            pending = _pending(conn, batch_ids)
            report.batch_ids = [b for b, _, _ in pending]
            with report.timed("batches"):
                batch_failures = _validate_batches(conn, session, ctx, stages, pending, report, runs, vr_id)
            with report.timed("freshness"):
                _validate_freshness(conn, session, ctx, stages, report, runs, vr_id)
            by_object: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
            for batch_id, object, source in pending:
                by_object[object][source].append(batch_id)
            for object in OBJECT_ORDER:
                sources = set(by_object[object]) | _held_sources(conn, object)
                for source in sorted(sources):
                    _validate_object(
                        conn,
                        session,
                        ctx,
                        stages=stages,
                        object=object,
                        source=source,
                        batch_ids=by_object[object].get(source, []),
                        batch_failures=batch_failures,
                        report=report,
                        runs=runs,
                        vr_id=vr_id,
                    )
            for object in sorted(set(by_object) - set(OBJECT_ORDER)):
                _pass_without_suite(conn, object, by_object[object], batch_failures, report, vr_id)
        finally:
            stages.drop_all()
            session.close()
        if settings.data_docs.enabled:
            with report.timed("docs"):
                report.data_docs = docs.publish_safely(settings.data_docs, runs)
        report.finalize()
        critical = sum(1 for run in runs for r in run.failures("critical"))
        results.finish(
            conn,
            vr_id,
            results.RunTotals(
                batch_ids=report.batch_ids,
                rows_checked=report.rows_checked,
                rows_quarantined=report.rows_quarantined,
                rows_released=report.rows_released,
                critical_failures=critical,
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


# -- which batches -----------------------------------------------------------------------------------
def _reset_rerun(conn: psycopg.Connection, run_id: str, batch_ids: Sequence[int] | None) -> None:
    """Forget what an earlier attempt of this run decided, so the same batches are validated again."""
    with conn.transaction():
        decided = [
            int(b)
            for (b,) in conn.execute(
                """
                SELECT v.batch_id FROM dq.batch_verdicts v JOIN ops.load_batches b USING (batch_id)
                WHERE v.run_id = %s AND v.verdict IN ('passed', 'rejected') AND b.origin NOT LIKE %s
                  AND (%s::bigint[] IS NULL OR v.batch_id = ANY(%s::bigint[]))
                """,
                (
                    run_id,
                    staging.RELEASE_ORIGIN + "%",
                    batch_ids and list(batch_ids),
                    batch_ids and list(batch_ids),
                ),
            ).fetchall()
        ]
        if decided:
            conn.execute(
                "DELETE FROM dq.quarantine WHERE run_id = %s AND status = 'held' AND batch_id = ANY(%s)",
                (run_id, decided),
            )
            conn.execute("DELETE FROM dq.batch_verdicts WHERE batch_id = ANY(%s)", (decided,))
            log.info("rerun of %s: validating batches %s again", run_id, decided)


def _pending(conn: psycopg.Connection, batch_ids: Sequence[int] | None) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        """
        SELECT b.batch_id, b.object, b.source_system FROM ops.load_batches b
        WHERE NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = b.batch_id)
          AND (%s::bigint[] IS NULL OR b.batch_id = ANY(%s::bigint[]))
        ORDER BY b.batch_id
        """,
        (batch_ids and list(batch_ids), batch_ids and list(batch_ids)),
    ).fetchall()
    return [(int(b), str(o), str(s)) for b, o, s in rows]


def _held_sources(conn: psycopg.Connection, object: str) -> set[str]:
    rows = conn.execute(
        "SELECT DISTINCT source_system FROM dq.quarantine WHERE table_name = %s AND status = 'held'",
        (f"raw.{object}",),
    ).fetchall()
    return {str(s) for (s,) in rows}


def _scope(batch_ids: Sequence[int]) -> str:
    return "batches " + ",".join(str(b) for b in batch_ids)


# -- batches and freshness -------------------------------------------------------------------------------
def _validate_batches(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    stages: staging.Stages,
    pending: list[tuple[int, str, str]],
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> dict[int, list[str]]:
    """Batch-level checks; returns batch id -> reasons from failed critical batch checks."""
    if not pending:
        return {}
    with stages.table("batches") as name:
        return _check_batches(conn, session, ctx, name, [b for b, _, _ in pending], report, runs, vr_id)


def _check_batches(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    name: str,
    ids: list[int],
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> dict[int, list[str]]:
    volume = ctx.settings.volume
    rows = staging.stage_batches(
        conn,
        name=name,
        batch_ids=ids,
        history=volume.history_batches,
        min_history=volume.min_history,
        min_share=volume.min_share_of_usual,
    )
    run = session.validate(
        suite="raw.batches",
        source_system="",
        scope=_scope(ids),
        stage=name,
        rows=rows,
        checks=batch_checks(ctx),
        key_columns=("batch_id",),
    )
    _raise_on_exceptions(run)
    runs.append(run)
    reasons: dict[int, list[str]] = defaultdict(list)
    quarantine.prepare(conn)
    for result in run.failures():
        quarantine.collect_failing(conn, session, run, result)
        failing = [int(k) for (k,) in conn.execute("SELECT DISTINCT k1 FROM _dq_failing").fetchall()]
        conn.execute("TRUNCATE _dq_failing")
        run.sample_keys[result.check.check_id] = [f"batch {b}" for b in failing[: quarantine.SAMPLE_KEYS]]
        message = describe(run, result)
        if result.check.severity == "critical":
            for batch_id in failing:
                reasons[batch_id].append(f"{result.check.check_id}: {result.check.description}")
        else:
            report.warnings.append(message)
    with conn.transaction():
        results.record(conn, vr_id, run)
    return reasons


def _validate_freshness(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    stages: staging.Stages,
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> None:
    with stages.table("freshness") as name:
        _check_freshness(conn, session, ctx, name, report, runs, vr_id)


def _check_freshness(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    name: str,
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> None:
    fresh = ctx.settings.freshness
    seen = conn.execute("SELECT DISTINCT source_system, object FROM ops.load_batches").fetchall()
    limits = {(str(s), str(o)): fresh.max_age_for(str(s), str(o)) for s, o in seen}
    rows = staging.stage_freshness(
        conn,
        name=name,
        max_age_minutes=limits,
        default_minutes=fresh.max_age,
        lookback_days=fresh.lookback_days,
    )
    if rows == 0:
        return
    run = session.validate(
        suite="raw.freshness",
        source_system="",
        scope="sources",
        stage=name,
        rows=rows,
        checks=freshness_checks(ctx),
        key_columns=("source_object",),
    )
    _raise_on_exceptions(run)
    runs.append(run)
    for result in run.failures():
        run.sample_keys[result.check.check_id] = quarantine.sample_keys(conn, session, run, result, raw=False)
        (report.failures if result.check.severity == "critical" else report.warnings).append(
            describe(run, result)
        )
    with conn.transaction():
        results.record(conn, vr_id, run)


def _raise_on_exceptions(run: SuiteRun) -> None:
    broken = [r for r in run.results if r.exception]
    if broken:
        raise QualityCheckError("; ".join(describe(run, r) for r in broken))


# -- one object of one source system -----------------------------------------------------------------
def _validate_object(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    *,
    stages: staging.Stages,
    object: str,
    source: str,
    batch_ids: list[int],
    batch_failures: dict[int, list[str]],
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> None:
    checks = raw_checks(object, source, ctx, single_batch=len(batch_ids) == 1)
    columns = [c for check in checks for c in check.staged_columns()]
    attributes = attribute_columns(ctx.settings, source, object)
    if batch_ids:
        with stages.table(object) as name:
            with report.timed("stage"):
                rows = staging.stage_raw(
                    conn,
                    object=object,
                    source_system=source,
                    name=name,
                    columns=columns,
                    attributes=attributes,
                    selection=staging.Selection(batch_ids=tuple(batch_ids)),
                )
            with report.timed("gx"):
                run = session.validate(
                    suite=f"raw.{object}",
                    source_system=source,
                    scope=_scope(batch_ids),
                    stage=name,
                    rows=rows,
                    checks=checks,
                    key_columns=KEY_COLUMNS,
                )
            _raise_on_exceptions(run)
            runs.append(run)
            report.rows_checked += rows
            quarantine.prepare(conn)
            with report.timed("keys"):
                for result in run.failures():
                    failing = _rows_of(session, run, result)
                    if failing is None:
                        continue
                    if result.quarantines:
                        quarantine.collect_failing(conn, session, run, failing)
                    run.sample_keys[result.check.check_id] = quarantine.sample_keys(
                        conn, session, run, failing, raw=True, collected=result.quarantines
                    )
            warnings = [describe(run, r) for r in run.failures("warning")]
            report.warnings.extend(warnings)
            with report.timed("write"), conn.transaction():
                quarantined = quarantine.quarantine_failing(
                    conn, object=object, run_id=report.run_id, validation_run_id=vr_id
                )
                verdicts = _verdicts(conn, ctx, object, batch_ids, batch_failures, run, len(warnings))
                quarantine.record_verdicts(
                    conn, object=object, verdicts=verdicts, run_id=report.run_id, validation_run_id=vr_id
                )
                results.record(conn, vr_id, run)
            report.rows_quarantined += quarantined
            for verdict in verdicts:
                if verdict.rejected:
                    report.rejected_batches.append(verdict.batch_id)
                    report.failures.append(
                        f"raw.{object} of {source}, batch {verdict.batch_id} rejected ({verdict.row_count:,} record(s), "
                        f"{verdict.quarantined:,} quarantined): " + "; ".join(verdict.reasons)
                    )
            log.info("%s: %s row(s) checked, %s quarantined", run.label, f"{rows:,}", f"{quarantined:,}")
    with conn.transaction():
        superseded = quarantine.supersede(conn, object=object, source_system=source, run_id=report.run_id)
    report.rows_released += superseded
    if superseded:
        log.info(
            "raw.%s of %s: %s quarantined record(s) replaced by a newer good version",
            object,
            source,
            superseded,
        )
    with report.timed("recheck"):
        held_checks = raw_checks(object, source, ctx)
        _recheck(
            conn,
            session,
            ctx,
            stages=stages,
            object=object,
            source=source,
            checks=held_checks,
            columns=[c for check in held_checks for c in check.staged_columns()],
            attributes=attributes,
            report=report,
            runs=runs,
            vr_id=vr_id,
        )


def _rows_of(session: GxSession, run: SuiteRun, result: CheckResult) -> CheckResult | None:
    """The result that names the failing rows: the check's own, its row-level twin's, or none."""
    if result.exception or not result.check.names_rows:
        return None
    return result if result.check.row_level else session.failing_rows(run, result)


def _pass_without_suite(
    conn: psycopg.Connection,
    object: str,
    batches: dict[str, list[int]],
    batch_failures: dict[int, list[str]],
    report: ValidationReport,
    vr_id: int,
) -> None:
    """Verdicts from the batch-level checks alone for an object no expectation suite covers yet (Mautic
    segment memberships): without a verdict, a validated core build would stop before the batch for good."""
    ids = [b for batch_ids in batches.values() for b in batch_ids]
    verdicts = [
        quarantine.BatchVerdict(batch_id, source, rows, 0, 0, list(batch_failures.get(batch_id, [])))
        for batch_id, (source, rows, _) in sorted(
            quarantine.batch_counts(conn, object=object, batch_ids=ids).items()
        )
    ]
    with conn.transaction():
        quarantine.record_verdicts(
            conn, object=object, verdicts=verdicts, run_id=report.run_id, validation_run_id=vr_id
        )
    for verdict in verdicts:
        if verdict.rejected:
            report.rejected_batches.append(verdict.batch_id)
            report.failures.append(
                f"raw.{object}, batch {verdict.batch_id} rejected: " + "; ".join(verdict.reasons)
            )


def _verdicts(
    conn: psycopg.Connection,
    ctx: Context,
    object: str,
    batch_ids: list[int],
    batch_failures: dict[int, list[str]],
    run: SuiteRun,
    warnings: int,
) -> list[quarantine.BatchVerdict]:
    limit = ctx.settings.gate.max_quarantine_share
    by_check = _quarantined_by_check(conn, object, batch_ids)
    verdicts = []
    for batch_id, (source, rows, held) in sorted(
        quarantine.batch_counts(conn, object=object, batch_ids=batch_ids).items()
    ):
        verdict = quarantine.BatchVerdict(
            batch_id, source, rows, held, warnings, list(batch_failures.get(batch_id, []))
        )
        if rows and held / rows > limit:
            checks = ", ".join(f"{check} {n:,}" for check, n in by_check.get(batch_id, []))
            verdict.reasons.append(
                f"{held:,} of {rows:,} records quarantined ({held / rows:.1%}), more than the "
                f"{limit:.0%} allowed (gate.max_quarantine_share); failed checks: {checks}"
            )
        verdicts.append(verdict)
    return verdicts


def _quarantined_by_check(
    conn: psycopg.Connection, object: str, batch_ids: list[int]
) -> dict[int, list[tuple[str, int]]]:
    rows = conn.execute(
        """
        SELECT batch_id, check_id, count(*) FROM dq.quarantine, unnest(failed_checks) AS check_id
        WHERE table_name = %s AND batch_id = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
        """,
        (f"raw.{object}", batch_ids),
    ).fetchall()
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for batch_id, check_id, n in rows:
        found[int(batch_id)].append((str(check_id), int(n)))
    return found


def _recheck(
    conn: psycopg.Connection,
    session: GxSession,
    ctx: Context,
    *,
    stages: staging.Stages,
    object: str,
    source: str,
    checks: list,
    columns: list[str],
    attributes: dict[str, str],
    report: ValidationReport,
    runs: list[SuiteRun],
    vr_id: int,
) -> None:
    """Check held records again; release those with no critical failure left."""
    waiting = conn.execute(
        """
        SELECT count(*) FROM dq.quarantine q
        WHERE q.table_name = %s AND q.source_system = %s AND q.status = 'held'
          AND q.validation_run_id IS DISTINCT FROM %s
        """,
        (f"raw.{object}", source, vr_id),
    ).fetchone()
    if not waiting or not waiting[0]:
        return
    with stages.table(f"{object}_recheck") as name:
        rows = staging.stage_raw(
            conn,
            object=object,
            source_system=source,
            name=name,
            columns=columns,
            attributes=attributes,
            selection=staging.Selection(held=True, not_from_validation=vr_id),
        )
        if rows == 0:
            return
        run = session.validate(
            suite=f"raw.{object}",
            source_system=source,
            scope="recheck",
            stage=name,
            rows=rows,
            checks=checks,
            key_columns=KEY_COLUMNS,
        )
        _raise_on_exceptions(run)
        runs.append(run)
        quarantine.prepare(conn)
        for result in run.failures():
            failing = _rows_of(session, run, result)
            if failing is not None and result.quarantines:
                quarantine.collect_failing(conn, session, run, failing)
        with conn.transaction():
            released, _ = quarantine.release_passing(
                conn,
                object=object,
                source_system=source,
                stage=name,
                run_id=report.run_id,
                validation_run_id=vr_id,
            )
            results.record(conn, vr_id, run)
        report.rows_released += released
        log.info(
            "raw.%s of %s: %s held record(s) rechecked, %s released",
            object,
            source,
            f"{rows:,}",
            f"{released:,}",
        )
