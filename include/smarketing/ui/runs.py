"""The last runs of each smarketing DAG and how fresh their output is, from Airflow's metadata database.

Runs inside the API server (the page's app is mounted there), so it reads Airflow's ORM directly, for
the DAGs the signed-in user may read only. Freshness is the age of the last successful run against the
DAG's own cadence (the width of its next data interval: an hour for the hourly DAGs, a day for the
nightly ones); a DAG run on new data only (an Asset schedule) has no cadence and shows its age alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DAG_PREFIX = "smarketing_"
RUNS_SHOWN = 5
# A DAG is stale once its last success is older than this many cadences (one run may be under way).
STALE_AFTER_CADENCES = 2


@dataclass(frozen=True)
class Run:
    run_id: str
    state: str
    run_type: str
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None

    @property
    def duration(self) -> timedelta | None:
        return self.end_date - self.start_date if self.start_date and self.end_date else None


@dataclass(frozen=True)
class DagStatus:
    """One DAG: whether it is paused, its cadence, its last runs (newest first), its last success."""

    dag_id: str
    paused: bool
    schedule: str | None
    cadence: timedelta | None
    next_run: datetime | None
    runs: list[Run] = field(default_factory=list)
    last_success: datetime | None = None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.last_success is None else now - self.last_success

    def freshness(self, now: datetime) -> str:
        """fresh, stale, never (no successful run yet), or unknown (no cadence to judge by)."""
        if self.last_success is None:
            return "never"
        if self.cadence is None:
            return "unknown"
        return "stale" if now - self.last_success > STALE_AFTER_CADENCES * self.cadence else "fresh"

    @property
    def failing(self) -> bool:
        return bool(self.runs) and self.runs[0].state == "failed"


def smarketing_dags(allowed: Iterable[str] | None, now: datetime) -> list[DagStatus]:
    """Every active smarketing DAG the user may read, with its last runs.

    Args:
        allowed: the DAG ids the signed-in user may read (None: no restriction, for tests and the CLI).
        now: the moment freshness is measured at (timezone-aware).

    Returns:
        One `DagStatus` per DAG, by DAG id.
    """
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagModel).where(DagModel.dag_id.startswith(DAG_PREFIX), DagModel.is_stale.is_(False))
        dags = list(session.scalars(query.order_by(DagModel.dag_id)))
        if allowed is not None:
            permitted = set(allowed)
            dags = [dag for dag in dags if dag.dag_id in permitted]
        runs = _last_runs(session, [dag.dag_id for dag in dags])
        return [_status(dag, runs.get(dag.dag_id, ([], None))) for dag in dags]


def _status(dag, found: tuple[list[Run], datetime | None]) -> DagStatus:
    start, end = dag.next_dagrun_data_interval_start, dag.next_dagrun_data_interval_end
    cadence = end - start if start and end and end > start else None
    return DagStatus(
        dag_id=dag.dag_id,
        paused=bool(dag.is_paused),
        schedule=dag.timetable_description or dag.timetable_summary,
        cadence=cadence,
        next_run=dag.next_dagrun_create_after,
        runs=found[0],
        last_success=found[1],
    )


def _last_runs(session, dag_ids: list[str]) -> dict[str, tuple[list[Run], datetime | None]]:
    """{dag_id: (its RUNS_SHOWN newest runs, the end of its last successful run)}: two queries."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    if not dag_ids:
        return {}
    rank = func.row_number().over(partition_by=DagRun.dag_id, order_by=DagRun.run_after.desc()).label("rank")
    ranked = (
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type, DagRun.run_after)
        .add_columns(DagRun.start_date, DagRun.end_date, rank)
        .where(DagRun.dag_id.in_(dag_ids))
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.rank <= RUNS_SHOWN).order_by(ranked.c.rank)).all()
    last_ok = dict(
        session.execute(
            select(DagRun.dag_id, func.max(DagRun.end_date))
            .where(DagRun.dag_id.in_(dag_ids), DagRun.state == "success")
            .group_by(DagRun.dag_id)
        ).all()
    )
    found: dict[str, tuple[list[Run], datetime | None]] = {d: ([], last_ok.get(d)) for d in dag_ids}
    for row in rows:
        found[row.dag_id][0].append(
            Run(row.run_id, str(row.state), str(row.run_type), row.run_after, row.start_date, row.end_date)
        )
    return found
