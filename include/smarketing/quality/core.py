"""Validate the core tables after the core build, before the `core` asset tells scoring, SLA and KPIs.

Core rows are not quarantined (they are already what downstream reads): any failed critical check
fails the gate, so the asset is not emitted and nothing downstream runs on the build; warnings are
recorded with sample keys. Raw validation keeps most problems out of core; these checks catch what
only the merged model shows (a deal closed before its lead first appeared, a persona the agreement
no longer has, an owner missing from core.owners).
"""

from __future__ import annotations

import logging
from typing import Any

from smarketing.quality import results, staging
from smarketing.quality.corechecks import CORE_TABLES, core_checks
from smarketing.quality.expectations import Check
from smarketing.quality.gate import QualityGateFailed, ValidationReport, describe
from smarketing.quality.quarantine import sample_keys
from smarketing.quality.settings import QualitySettings
from smarketing.quality.validation import Validation, open_validation

log = logging.getLogger(__name__)


def validate_core(
    dsn: str,
    *,
    run_id: str,
    settings: QualitySettings | None = None,
    agreement: Any | None = None,
    raise_on_failure: bool = True,
) -> ValidationReport:
    """Validate every core table after the core build of `run_id`; returns the report.

    `settings` / `agreement`: loaded from their files when None. Raises QualityGateFailed when a
    critical check fails (after the results are recorded), unless `raise_on_failure` is False.
    """
    with open_validation(dsn, run_id=run_id, layer="core", settings=settings, agreement=agreement) as v:
        for table, key in CORE_TABLES.items():
            checks = core_checks(table, v.ctx)
            if checks:
                with v.stages.table(f"core_{table}") as name:
                    _validate_table(v, table, key, name, checks)
    report = v.report
    if not report.success and raise_on_failure:
        raise QualityGateFailed(report)  # said once, where it is caught: the CLI line, the task failure
    if report.warnings:  # the task's summary line (quality.tasks) counts them; here they are named
        log.warning("%s", report.summary)
    return report


def _validate_table(v: Validation, table: str, key: str, name: str, checks: list[Check]) -> None:
    """Stage core.<table> as `name`, run its suite, note failures in the report and record the results."""
    rows = staging.stage_core(v.conn, table=table, name=name)
    run = v.check(
        suite=f"core.{table}",
        source_system="",
        scope="table",
        stage=name,
        rows=rows,
        checks=checks,
        key_columns=(key,),
    )
    v.report.rows_checked += rows
    for result in run.failures():
        if result.check.row_level:
            run.sample_keys[result.check.check_id] = sample_keys(v.conn, v.session, run, result, raw=False)
        target = v.report.failures if result.check.severity == "critical" else v.report.warnings
        target.append(describe(run, result))
    with v.conn.transaction():
        results.record(v.conn, v.vr_id, run)
