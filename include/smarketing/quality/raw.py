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
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import psycopg

from smarketing.quality import quarantine, results, staging
from smarketing.quality.checks import OBJECT_ORDER, batch_checks, freshness_checks
from smarketing.quality.gate import QualityGateFailed, ValidationReport, describe
from smarketing.quality.rawobject import report_rejected, scope_of, validate_object
from smarketing.quality.settings import QualitySettings
from smarketing.quality.validation import Validation, open_validation

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
    """Validate the batches not validated yet (or `batch_ids` among them) for run `run_id`.

    `settings` / `agreement`: loaded from their files when None. Returns the report; raises
    QualityGateFailed when the gate fails (after everything is recorded), unless `raise_on_failure`
    is False. One raw validation runs at a time (two would pick the same pending batches).
    """
    with open_validation(
        dsn, run_id=run_id, layer="raw", settings=settings, agreement=agreement, lock_key=VALIDATION_LOCK_KEY
    ) as v:
        _validate_pending(v, batch_ids)
    report = v.report
    if not report.success and raise_on_failure:
        raise QualityGateFailed(report)  # said once, where it is caught: the CLI line, the task failure
    if report.warnings:  # the task's summary line (quality.tasks) counts them; here they are named
        log.warning("%s", report.summary)
    return report


def _validate_pending(v: Validation, batch_ids: Sequence[int] | None) -> None:
    """The steps of one raw validation: batches, freshness, then object by object, source by source."""
    _reset_rerun(v.conn, v.report.run_id, batch_ids)
    pending = _pending(v.conn, batch_ids)
    v.report.batch_ids = [b for b, _, _ in pending]
    with v.report.timed("batches"):
        batch_failures = _validate_batches(v, [b for b, _, _ in pending])
    with v.report.timed("freshness"), v.stages.table("freshness") as name:
        _validate_freshness(v, name)
    by_object: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for batch_id, object, source in pending:
        by_object[object][source].append(batch_id)
    for object in OBJECT_ORDER:
        for source in sorted(set(by_object[object]) | _held_sources(v.conn, object)):
            validate_object(v, object, source, by_object[object].get(source, []), batch_failures)
    for object in sorted(set(by_object) - set(OBJECT_ORDER)):
        _pass_without_suite(v, object, by_object[object], batch_failures)


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


# -- batches and freshness -------------------------------------------------------------------------------
def _validate_batches(v: Validation, ids: list[int]) -> dict[int, list[str]]:
    """Batch-level checks; returns batch id -> reasons from failed critical batch checks."""
    if not ids:
        return {}
    volume = v.ctx.settings.volume
    with v.stages.table("batches") as name:
        rows = staging.stage_batches(
            v.conn,
            name=name,
            batch_ids=ids,
            history=volume.history_batches,
            min_history=volume.min_history,
            min_share=volume.min_share_of_usual,
        )
        run = v.check(
            suite="raw.batches",
            source_system="",
            scope=scope_of(ids),
            stage=name,
            rows=rows,
            checks=batch_checks(v.ctx),
            key_columns=("batch_id",),
        )
        reasons: dict[int, list[str]] = defaultdict(list)
        quarantine.prepare(v.conn)
        for result in run.failures():
            quarantine.collect_failing(v.conn, v.session, run, result)
            failing = [int(k) for (k,) in v.conn.execute("SELECT DISTINCT k1 FROM _dq_failing").fetchall()]
            v.conn.execute("TRUNCATE _dq_failing")
            run.sample_keys[result.check.check_id] = [f"batch {b}" for b in failing[: quarantine.SAMPLE_KEYS]]
            if result.check.severity == "critical":
                for batch_id in failing:
                    reasons[batch_id].append(f"{result.check.check_id}: {result.check.description}")
            else:
                v.report.warnings.append(describe(run, result))
    with v.conn.transaction():
        results.record(v.conn, v.vr_id, run)
    return reasons


def _validate_freshness(v: Validation, name: str) -> None:
    """Every source and object seen recently: its last non-empty batch is young enough."""
    fresh = v.ctx.settings.freshness
    seen = v.conn.execute("SELECT DISTINCT source_system, object FROM ops.load_batches").fetchall()
    rows = staging.stage_freshness(
        v.conn,
        name=name,
        max_age_minutes={(str(s), str(o)): fresh.max_age_for(str(s), str(o)) for s, o in seen},
        default_minutes=fresh.max_age,
        lookback_days=fresh.lookback_days,
    )
    if rows == 0:
        return
    run = v.check(
        suite="raw.freshness",
        source_system="",
        scope="sources",
        stage=name,
        rows=rows,
        checks=freshness_checks(v.ctx),
        key_columns=("source_object",),
    )
    for result in run.failures():
        keys = quarantine.sample_keys(v.conn, v.session, run, result, raw=False)
        run.sample_keys[result.check.check_id] = keys
        (v.report.failures if result.check.severity == "critical" else v.report.warnings).append(
            describe(run, result)
        )
    with v.conn.transaction():
        results.record(v.conn, v.vr_id, run)


def _pass_without_suite(
    v: Validation, object: str, batches: dict[str, list[int]], batch_failures: dict[int, list[str]]
) -> None:
    """Verdicts from the batch-level checks alone for an object no expectation suite covers yet (Mautic
    segment memberships): without a verdict, a validated core build would stop before the batch for good."""
    ids = [b for batch_ids in batches.values() for b in batch_ids]
    verdicts = [
        quarantine.BatchVerdict(batch_id, source, rows, 0, 0, list(batch_failures.get(batch_id, [])))
        for batch_id, (source, rows, _) in sorted(
            quarantine.batch_counts(v.conn, object=object, batch_ids=ids).items()
        )
    ]
    with v.conn.transaction():
        quarantine.record_verdicts(
            v.conn, object=object, verdicts=verdicts, run_id=v.report.run_id, validation_run_id=v.vr_id
        )
    report_rejected(v.report, f"raw.{object}", verdicts, counts=False)
