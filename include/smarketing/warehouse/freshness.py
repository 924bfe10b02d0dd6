"""How fresh each pipeline's output is: its last run, the moment it covered, and whether that is older
than its schedule allows (`smarketing status`).

Read from the warehouse's own run records, so the answer is the same wherever it is asked (CLI, the
Airflow UI page) and needs no access to Airflow's metadata database; the run ids are Airflow's.
A capability whose tables are not migrated yet is reported as never run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from smarketing.warehouse.connection import connect


@dataclass(frozen=True)
class Pipeline:
    """One capability: the DAG that runs it, where its runs are recorded, how old it may get."""

    name: str
    dag_id: str
    table: str  # must exist for the query to run
    query: str  # -> run_id, as_of, finished_at, detail
    allowed_age: timedelta
    schedule: str


PIPELINES = (
    Pipeline(
        "ingest (landing)",
        "smarketing_ingest",
        "ops.load_batches",
        "SELECT run_id, loaded_at, loaded_at, count(*) OVER () || ' batch(es), '"
        " || sum(row_count) OVER () || ' row(s) landed in all' FROM ops.load_batches"
        " ORDER BY batch_id DESC LIMIT 1",
        timedelta(hours=2),
        "hourly",
    ),
    Pipeline(
        "quality gate",
        "smarketing_ingest",
        "dq.validation_runs",
        "SELECT run_id, started_at, finished_at, layer || ' ' || CASE WHEN success THEN 'passed' ELSE 'FAILED' END"
        " FROM dq.validation_runs ORDER BY finished_at DESC LIMIT 1",
        timedelta(hours=2),
        "hourly",
    ),
    Pipeline(
        "core build",
        "smarketing_ingest",
        "ops.core_builds",
        "SELECT NULL, min(built_at), max(built_at), 'up to batch ' || min(last_batch_id) FROM ops.core_builds"
        " HAVING count(*) > 0",
        timedelta(hours=2),
        "hourly",
    ),
    Pipeline(
        "scoring",
        "smarketing_scoring",
        "scoring.runs",
        "SELECT run_id, as_of, finished_at, mode || ', model ' || model_version FROM scoring.runs"
        " WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
        timedelta(hours=26),
        "nightly",
    ),
    Pipeline(
        "SLA clock",
        "smarketing_sla",
        "sla.followups",
        "SELECT NULL, max(evaluated_at), max(updated_at), count(*) || ' follow-up(s)' FROM sla.followups"
        " HAVING count(*) > 0",
        timedelta(hours=2),
        "hourly",
    ),
    Pipeline(
        "nurturing",
        "smarketing_nurture",
        "nurture.runs",
        "SELECT run_id, as_of, finished_at, planned || ' planned, ' || held_out || ' held out'"
        " FROM nurture.runs WHERE finished_at IS NOT NULL AND NOT dry_run ORDER BY finished_at DESC LIMIT 1",
        timedelta(hours=26),
        "after scoring",
    ),
    Pipeline(
        "KPI tables",
        "smarketing_kpi",
        "ops.kpi_state",
        "SELECT NULL, min(as_of), max(built_at), count(*) || ' table(s)' FROM ops.kpi_state HAVING count(*) > 0",
        timedelta(hours=26),
        "nightly and on new data",
    ),
)


def pipeline_status(dsn: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per capability: name, dag_id, schedule, last run id, the moment it covered (`as_of`), when
    it finished, `fresh` (finished within the schedule's allowance of `now`), and a short detail.

    `now`: the moment freshness is judged at (default: now). Moments are aware datetimes (UTC) or None.
    """
    moment = now or datetime.now(UTC)
    rows = []
    with connect(dsn) as conn:
        for p in PIPELINES:
            found = None
            if conn.execute("SELECT to_regclass(%s)", (p.table,)).fetchone()[0] is not None:
                found = conn.execute(p.query).fetchone()  # type: ignore[arg-type]  # constant SQL
            run_id, as_of, finished, detail = found or (None, None, None, None)
            row = asdict(p) | {"run_id": run_id, "as_of": as_of, "finished_at": finished, "detail": detail}
            row["allowed_age"] = p.allowed_age.total_seconds()
            row["fresh"] = finished is not None and moment - finished <= p.allowed_age
            del row["query"], row["table"]
            rows.append(row)
    return rows
