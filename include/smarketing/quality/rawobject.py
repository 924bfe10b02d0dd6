"""One object of one source system in a raw validation: check its new batches, decide them, release
what a newer version replaces, recheck what is still held.

Each step commits on its own, so the references of the next object see this one's verdicts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from smarketing.quality import quarantine, results, staging
from smarketing.quality.checks import KEY_COLUMNS, attribute_columns, raw_checks
from smarketing.quality.engine import CheckResult, GxSession, SuiteRun
from smarketing.quality.expectations import Check
from smarketing.quality.gate import ValidationReport, describe
from smarketing.quality.rawstage import Selection
from smarketing.quality.validation import Validation

log = logging.getLogger(__name__)


def validate_object(
    v: Validation, object: str, source: str, batch_ids: list[int], batch_failures: dict[int, list[str]]
) -> None:
    """Validate raw.<object> of `source`: the new `batch_ids` (maybe none), then its held records.

    `batch_failures`: batch id -> reasons from failed critical batch-level checks (they reject it too).
    """
    attributes = attribute_columns(v.ctx.settings, source, object)
    if batch_ids:
        checks = raw_checks(object, source, v.ctx, single_batch=len(batch_ids) == 1)
        with v.stages.table(object) as name:
            with v.report.timed("stage"):
                rows = _stage(
                    v, object, source, name, checks, attributes, Selection(batch_ids=tuple(batch_ids))
                )
            with v.report.timed("gx"):
                run = _check(v, object, source, scope_of(batch_ids), name, rows, checks)
            _decide(v, run, object, source, batch_ids, batch_failures)
    _release_superseded(v, object, source)
    with v.report.timed("recheck"):
        _recheck(v, object, source, attributes)


def scope_of(batch_ids: Sequence[int]) -> str:
    """What a suite run covered, as Data Docs and messages name it: runs of consecutive batches as
    ranges ("batches 1-185", "batches 3,7-9"), so 185 batches do not make a 600-character file name."""
    ids = sorted(set(batch_ids))
    if not ids:
        return "batches none"
    runs: list[str] = []
    start = previous = ids[0]
    for b in [*ids[1:], None]:
        if b is not None and b == previous + 1:
            previous = b
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if b is not None:
            start = previous = b
    return "batches " + ",".join(runs)


def _stage(
    v: Validation,
    object: str,
    source: str,
    name: str,
    checks: list[Check],
    attributes: dict[str, str],
    selection: Selection,
) -> int:
    columns = [c for check in checks for c in check.staged_columns()]
    return staging.stage_raw(
        v.conn,
        object=object,
        source_system=source,
        name=name,
        columns=columns,
        attributes=attributes,
        selection=selection,
    )


def _check(
    v: Validation, object: str, source: str, scope: str, name: str, rows: int, checks: list[Check]
) -> SuiteRun:
    return v.check(
        suite=f"raw.{object}",
        source_system=source,
        scope=scope,
        stage=name,
        rows=rows,
        checks=checks,
        key_columns=KEY_COLUMNS,
    )


def _collect_failing(v: Validation, run: SuiteRun, *, samples: bool) -> None:
    """Keys of the rows failing critical row checks into _dq_failing; with `samples`, sample keys of
    every failed check (named rows) for the messages."""
    quarantine.prepare(v.conn)
    for result in run.failures():
        failing = _rows_of(v.session, run, result)
        if failing is None:
            continue
        if result.quarantines:
            quarantine.collect_failing(v.conn, v.session, run, failing)
        if samples:
            run.sample_keys[result.check.check_id] = quarantine.sample_keys(
                v.conn, v.session, run, failing, raw=True, collected=result.quarantines
            )


def _rows_of(session: GxSession, run: SuiteRun, result: CheckResult) -> CheckResult | None:
    """The result that names the failing rows: the check's own, its row-level twin's, or none."""
    if result.exception or not result.check.names_rows:
        return None
    return result if result.check.row_level else session.failing_rows(run, result)


def _decide(
    v: Validation,
    run: SuiteRun,
    object: str,
    source: str,
    batch_ids: list[int],
    batch_failures: dict[int, list[str]],
) -> None:
    """Quarantine the failing records and give each new batch its verdict, in one transaction."""
    report = v.report
    report.rows_checked += run.rows
    with report.timed("keys"):
        _collect_failing(v, run, samples=True)
    warnings = [describe(run, r) for r in run.failures("warning")]
    report.warnings.extend(warnings)
    with report.timed("write"), v.conn.transaction():
        quarantined = quarantine.quarantine_failing(
            v.conn, object=object, run_id=report.run_id, validation_run_id=v.vr_id
        )
        verdicts = _verdicts(v, object, batch_ids, batch_failures, len(warnings))
        quarantine.record_verdicts(
            v.conn, object=object, verdicts=verdicts, run_id=report.run_id, validation_run_id=v.vr_id
        )
        results.record(v.conn, v.vr_id, run)
    report.rows_quarantined += quarantined
    report_rejected(report, f"raw.{object} of {source}", verdicts, counts=True)
    log.info("%s: %s row(s) checked, %s quarantined", run.label, f"{run.rows:,}", f"{quarantined:,}")


def report_rejected(
    report: ValidationReport, label: str, verdicts: Sequence[quarantine.BatchVerdict], *, counts: bool
) -> None:
    """Name every rejected batch among `verdicts` in the report's failures (`counts`: with its rows)."""
    for verdict in verdicts:
        if verdict.rejected:
            report.rejected_batches.append(verdict.batch_id)
            size = (
                f" ({verdict.row_count:,} record(s), {verdict.quarantined:,} quarantined)" if counts else ""
            )
            report.failures.append(
                f"{label}, batch {verdict.batch_id} rejected{size}: " + "; ".join(verdict.reasons)
            )


def _verdicts(
    v: Validation, object: str, batch_ids: list[int], batch_failures: dict[int, list[str]], warnings: int
) -> list[quarantine.BatchVerdict]:
    """A verdict per batch: rejected for a failed critical batch check or too many quarantined records."""
    limit = v.ctx.settings.gate.max_quarantine_share
    by_check = _quarantined_by_check(v, object, batch_ids)
    verdicts = []
    for batch_id, (source, rows, held) in sorted(
        quarantine.batch_counts(v.conn, object=object, batch_ids=batch_ids).items()
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
    v: Validation, object: str, batch_ids: list[int]
) -> dict[int, list[tuple[str, int]]]:
    rows = v.conn.execute(
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


def _release_superseded(v: Validation, object: str, source: str) -> None:
    with v.conn.transaction():
        superseded = quarantine.supersede(v.conn, object=object, source_system=source, run_id=v.report.run_id)
    v.report.rows_released += superseded
    if superseded:
        log.info(
            "raw.%s of %s: %s quarantined record(s) replaced by a newer good version",
            object,
            source,
            superseded,
        )


def _recheck(v: Validation, object: str, source: str, attributes: dict[str, str]) -> None:
    """Check held records again; release those with no critical failure left."""
    waiting = v.conn.execute(
        """
        SELECT count(*) FROM dq.quarantine q
        WHERE q.table_name = %s AND q.source_system = %s AND q.status = 'held'
          AND q.validation_run_id IS DISTINCT FROM %s
        """,
        (f"raw.{object}", source, v.vr_id),
    ).fetchone()
    if not waiting or not waiting[0]:
        return
    checks = raw_checks(object, source, v.ctx)
    with v.stages.table(f"{object}_recheck") as name:
        selection = Selection(held=True, not_from_validation=v.vr_id)
        rows = _stage(v, object, source, name, checks, attributes, selection)
        if rows == 0:  # all of them wait in rejected batches: for the batch to be admitted
            return
        run = _check(v, object, source, "recheck", name, rows, checks)
        _collect_failing(v, run, samples=False)
        with v.conn.transaction():
            released, _ = quarantine.release_passing(
                v.conn,
                object=object,
                source_system=source,
                stage=name,
                run_id=v.report.run_id,
                validation_run_id=v.vr_id,
            )
            results.record(v.conn, v.vr_id, run)
    v.report.rows_released += released
    log.info(
        "raw.%s of %s: %s held record(s) rechecked, %s released", object, source, f"{rows:,}", f"{released:,}"
    )
