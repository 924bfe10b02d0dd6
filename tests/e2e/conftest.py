"""Whole-DAG runs with `dag.test()` on the migrated SQLite metadata DB that `make test` prepares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture()
def warehouse_env(clean_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the DAGs' tasks at the test warehouse (tasks run in-process under dag.test())."""
    monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_WAREHOUSE", clean_warehouse)
    yield clean_warehouse


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def run_dag(
    dag_id: str, *, run_conf: dict | None = None, logical_date=None, run_after=None
) -> dict[str, str]:
    """Run a DAG with dag.test() and return {task_id[map_index]: state} for every task instance.

    dag.test() makes a manual run (`DagRunType.MANUAL`) triggered at `run_after` (default now), with
    the data interval the timetable infers for `logical_date`, as a click on Trigger does.

    dag.test() neither raises on a failed task nor always marks the run failed: callers assert states.
    """
    states: dict[str, str] = {}
    for ti in run_dag_instances(dag_id, run_conf=run_conf, logical_date=logical_date, run_after=run_after):
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = str(ti.state)
    return states


def run_dag_instances(
    dag_id: str, *, run_conf: dict | None = None, logical_date=None, run_after=None, retries: int = 0
) -> list:
    """Run a DAG with dag.test() and return its task instances (state, try_number, ...).

    `retries`: each task's retries, one second apart (default none: dag.test() waits out real retry
    delays, and a failure should show at once).
    """
    import pendulum

    dag = load_dag(dag_id)
    dag.deadline = None  # dag.test() crashes at the end of a DAG with a deadline
    for task in dag.tasks:
        task.retries = retries
        if retries:
            task.retry_delay = timedelta(seconds=1)
            task.retry_exponential_backoff = 0
    # A distinct logical date per run: two runs of one DAG at the same date collide in the metadata DB.
    run = dag.test(
        run_conf=run_conf or {}, logical_date=logical_date or pendulum.now("UTC"), run_after=run_after
    )
    return list(run.get_task_instances())


@pytest.fixture()
def airflow_ready() -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        pytest.skip(
            f"no migrated Airflow metadata DB in {home}: run `make test` (it runs `airflow db migrate`)"
        )
