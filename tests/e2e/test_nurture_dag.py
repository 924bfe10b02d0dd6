"""`smarketing_nurture` end to end with dag.test(): the sandbox world scored by the scoring DAG, whose
`smarketing_lead_scores` asset event gives the nurturing run its moment; pushes to the live sandbox
server; a rerun calls nothing; a dry run records nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import yaml

from smarketing import paths
from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import SandboxServer
from tests.e2e.conftest import load_dag, run_dag
from tests.integration.test_scoring_world import load_world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

AS_OF = "2026-11-16T02:00:00+00:00"


def agreement_for_files(tmp_path: Path) -> Path:
    """The project's agreement, its targets reading the file sources' contact ids (the world's own ids)."""
    data = yaml.safe_load(paths.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for scenario in data["nurturing"]["scenarios"]:
        target = scenario["target"]
        target["source_system"] = "sandbox_crm" if target["system"] == "hubspot" else "sandbox_ma"
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_nurture_dag_runs_on_the_scores_asset_and_pushes_once(
    warehouse_env: str, airflow_ready: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = warehouse_env
    load_world(dsn, tmp_path / "world", contacts=500, days=90)
    monkeypatch.setattr(paths, "DEFAULT_CONFIG", agreement_for_files(tmp_path))
    nurture = load_dag("smarketing_nurture")
    assert [a.name for a in nurture.timetable.asset_condition.objects] == ["smarketing_lead_scores"]

    with SandboxServer(ApiWorld.load(tmp_path / "world")) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_MAUTIC", server.mautic_connection())
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", server.hubspot_connection())
        scoring = run_dag("smarketing_scoring", run_conf={"as_of": AS_OF, "shards": 2})
        assert set(scoring.values()) == {"success"}, scoring

        states = run_dag("smarketing_nurture")  # its moment comes from the scoring run's asset event
        assert set(states.values()) == {"success"}, states
        assert {"push[0]", "confirm[0]", "exits[0]", "stats"} <= set(states)
        with psycopg.connect(dsn) as conn:
            (as_of,) = conn.execute("SELECT as_of FROM nurture.runs").fetchone()
            assert as_of.isoformat() == AS_OF
            by_state = dict(
                conn.execute("SELECT state, count(*) FROM nurture.enrollments GROUP BY 1").fetchall()
            )
            confirmed = conn.execute(
                "SELECT target_kind || ':' || target_id, array_agg(external_ref ORDER BY external_ref::bigint) "
                "FROM nurture.enrollments WHERE state = 'confirmed' GROUP BY 1 ORDER BY 1"
            ).fetchall()
            outcomes = conn.execute("SELECT count(*) FROM nurture.scenario_outcomes").fetchone()[0]
        assert by_state.get("confirmed", 0) > 0 and by_state.get("held_out", 0) > 0, by_state
        assert "planned" not in by_state and "pushed" not in by_state
        served = {k: v for k, v in server.state.nurture.snapshot()["members"].items() if v}
        assert served == {key: refs for key, refs in confirmed}
        assert outcomes > 0

        requests = server.stats()["counters"]["requests"]
        again = run_dag("smarketing_nurture")  # the next trigger with nothing new: no call at all
        assert set(again.values()) <= {"success", "skipped"}, again
        assert server.stats()["counters"]["requests"] == requests

        dry = run_dag("smarketing_nurture", run_conf={"dry_run": True, "as_of": "2026-12-20T02:00:00+00:00"})
        assert set(dry.values()) <= {"success", "skipped"}, dry
        with psycopg.connect(dsn) as conn:
            after = dict(
                conn.execute("SELECT state, count(*) FROM nurture.enrollments GROUP BY 1").fetchall()
            )
        assert after == by_state
        assert server.stats()["counters"]["requests"] == requests
