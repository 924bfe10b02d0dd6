"""dq.validation_runs and dq.expectation_results: what every validation run checked and found.

A run is identified by (run id, layer). Rerunning it replaces its row and, through the cascade, its
expectation results: a retried Airflow task never leaves two sets of results behind.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from smarketing.quality.engine import SuiteRun
from smarketing.quality.gate import ValidationReport
from smarketing.sqlfiles import statement


def begin(conn: psycopg.Connection, *, run_id: str, layer: str, started_at: datetime) -> int:
    """Replace any earlier validation of this run and layer with a fresh, not yet successful one."""
    with conn.transaction():
        conn.execute("DELETE FROM dq.validation_runs WHERE run_id = %s AND layer = %s", (run_id, layer))
        row = conn.execute(
            """
            INSERT INTO dq.validation_runs (run_id, layer, started_at, finished_at, success, summary)
            VALUES (%s, %s, %s, %s, false, 'running') RETURNING validation_run_id
            """,
            (run_id, layer, started_at, started_at),
        ).fetchone()
    assert row is not None
    return int(row[0])


def finish(conn: psycopg.Connection, report: ValidationReport, *, critical_failures: int) -> None:
    """Record the outcome of `report`'s validation run (after `report.finalize()`).

    `critical_failures`: how many critical checks failed (raw: quarantined rows count here too).
    """
    conn.execute(
        """
        UPDATE dq.validation_runs
           SET finished_at = %s, batch_ids = %s, rows_checked = %s, rows_quarantined = %s, rows_released = %s,
               critical_failures = %s, warnings = %s, success = %s, summary = %s, data_docs_url = %s
         WHERE validation_run_id = %s
        """,
        (
            datetime.now(UTC),
            list(report.batch_ids),
            report.rows_checked,
            report.rows_quarantined,
            report.rows_released,
            critical_failures,
            len(report.warnings),
            report.success,
            report.summary,
            report.data_docs.get("index"),
            report.validation_run_id,
        ),
    )


def _json_safe(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        json.dumps(value)
    except TypeError:
        return str(value)
    return value


def record(conn: psycopg.Connection, validation_run_id: int, run: SuiteRun) -> None:
    """Write one row per expectation of a suite run (a few dozen rows: executemany is fine)."""
    rows = [
        (
            validation_run_id,
            run.suite,
            run.source_system,
            run.scope,
            r.check.check_id,
            r.check.expectation_type,
            r.check.column,
            r.check.severity,
            r.success,
            r.element_count,
            r.unexpected_count,
            r.unexpected_percent,
            Jsonb(_json_safe(r.observed_value)) if r.observed_value is not None else None,
            run.sample_keys.get(r.check.check_id, []),
            r.exception[:2000] if r.exception else None,
            Jsonb(_json_safe(r.check.json_kwargs())),
        )
        for r in run.results
    ]
    with conn.cursor() as cur:
        cur.executemany(statement("quality", "record_results"), rows)
