"""Every DAG's tasks, retries enabled: what a retry cannot fix fails at once, the rest is retried.

One run per DAG with two faults at once: the agreement is broken (`check_agreement` must fail on its
first try: a ConfigError is deterministic) and the warehouse does not answer (`prepare_warehouse` must
be retried: a server that is down may be back). DAG-specific deterministic failures (a missing
connection, a bad param) follow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smarketing import paths
from tests.e2e.conftest import DAGS_DIR, run_dag_instances

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

RETRIES = 2
DAG_IDS = sorted(p.stem for p in DAGS_DIR.glob("smarketing_*.py"))


def _tries(instances: list) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in instances if ti.map_index < 0}


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_broken_agreement_is_not_retried_a_dead_warehouse_is(
    dag_id: str, airflow_ready: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "smarketing.yaml"
    broken.write_text("scoring:\n  version: 1\n  grades: {A: banana}\n")
    monkeypatch.setattr(paths, "DEFAULT_CONFIG", broken)
    monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_WAREHOUSE", "postgres://nobody@127.0.0.1:1/none")

    tries = _tries(run_dag_instances(dag_id, retries=RETRIES))

    assert tries["check_agreement"] == ("failed", 1), tries
    assert tries["prepare_warehouse"] == ("failed", RETRIES + 1), tries
    assert all(
        state == "upstream_failed"
        for task, (state, _) in tries.items()
        if task not in ("check_agreement", "prepare_warehouse")
    ), tries


def test_a_missing_connection_is_not_retried(
    airflow_ready: None, warehouse_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", raising=False)
    conf = {"api_sources": [{"system": "hubspot", "objects": ["owners"]}]}

    instances = run_dag_instances("smarketing_ingest", run_conf=conf, retries=RETRIES)

    [pull] = [ti for ti in instances if ti.task_id == "extract_api_object" and ti.map_index == 0]
    assert (str(pull.state), pull.try_number) == ("failed", 1)
