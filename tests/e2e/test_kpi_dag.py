"""`smarketing_kpi` end to end with dag.test(): the KPI tables built from the warehouse, a rerun changes nothing."""

from __future__ import annotations

import pendulum
import psycopg
import pytest

from smarketing.kpi.build import table_checksums
from tests.e2e.conftest import run_dag
from tests.integration.kpi_world import AS_OF, seed_world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]


def test_kpi_dag_builds_every_table_and_reruns_identically(warehouse_env: str, airflow_ready: None) -> None:
    seed_world(warehouse_env)
    states = run_dag(
        "smarketing_kpi", run_conf={"as_of": AS_OF}, logical_date=pendulum.datetime(2026, 12, 1, tz="UTC")
    )
    assert states and set(states.values()) == {"success"}, states
    with psycopg.connect(warehouse_env) as conn:
        assert conn.execute("SELECT sum(mqls) FROM kpi.funnel_monthly").fetchone()[0] == 2
        built = dict(conn.execute("SELECT table_name, mode FROM ops.kpi_state").fetchall())
        first = table_checksums(conn)
    assert len(built) == 12 and set(built.values()) == {"full"}

    states = run_dag(
        "smarketing_kpi", run_conf={"as_of": AS_OF}, logical_date=pendulum.datetime(2026, 12, 2, tz="UTC")
    )
    assert set(states.values()) == {"success"}, states
    with psycopg.connect(warehouse_env) as conn:
        assert table_checksums(conn) == first


def test_a_manual_kpi_run_measures_as_of_its_trigger(warehouse_env: str, airflow_ready: None) -> None:
    """Trigger pressed at 09:41 measures as of 09:41, not as of 04:00, the end of the last daily interval
    Airflow infers for a manual run (issue #15)."""
    seed_world(warehouse_env)
    triggered = pendulum.datetime(2026, 12, 1, 9, 41, 5, tz="UTC")  # after the DAG's start_date
    states = run_dag("smarketing_kpi", logical_date=triggered, run_after=triggered)
    assert set(states.values()) == {"success"}, states
    with psycopg.connect(warehouse_env) as conn:
        moments = {row[0] for row in conn.execute("SELECT as_of FROM ops.kpi_state")}
    assert moments == {triggered}
