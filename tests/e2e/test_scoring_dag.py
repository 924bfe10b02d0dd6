"""`smarketing_scoring` end to end with dag.test(): sharded scoring of a sandbox world, a full rescore on
demand, a dry-run write-back, and a rerun that changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.e2e.conftest import run_dag, run_dag_instances
from tests.integration.test_scoring_world import load_world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

AS_OF = "2026-11-16T02:00:00+00:00"
WRITEBACK = [{"system": "sandbox_crm", "api": "hubspot", "dry_run": True}]


def assert_all_succeeded(states: dict[str, str]) -> None:
    failed = {task: state for task, state in states.items() if state != "success"}
    assert not failed, failed


def outputs(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn) as conn:
        return {
            "scores": conn.execute(
                "SELECT lead_id, fit, engagement, total, grade, is_mql FROM scoring.lead_scores ORDER BY 1"
            ).fetchall(),
            "contributions": conn.execute(
                "SELECT * FROM scoring.contributions ORDER BY 1, 2, 3, 4"
            ).fetchall(),
            "crossings": conn.execute(
                "SELECT lead_id, model_version, crossed_at FROM scoring.mql_crossings ORDER BY 1"
            ).fetchall(),
        }


def test_scoring_dag_scores_every_lead_in_shards(
    warehouse_env: str, airflow_ready: None, tmp_path: Path
) -> None:
    dsn = warehouse_env
    load_world(dsn, tmp_path / "world", contacts=600, days=90)

    instances = run_dag_instances(
        "smarketing_scoring", run_conf={"as_of": AS_OF, "shards": 3, "writeback": WRITEBACK}
    )
    states = {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in instances
    }
    assert_all_succeeded(states)
    assert {f"score_shard[{i}]" for i in range(3)} <= set(states)
    # The UI labels each shard by its lead ids.
    labels = sorted(ti.rendered_map_index for ti in instances if ti.task_id == "score_shard")
    assert labels[0].startswith("shard 1 of 3 (lead ids up to "), labels
    assert re.fullmatch(r"shard 2 of 3 \(lead ids \d+–\d+\)", labels[1]), labels
    assert labels[2].startswith("shard 3 of 3 (lead ids from "), labels

    with psycopg.connect(dsn) as conn:
        leads = conn.execute(
            "SELECT count(*) FROM core.leads WHERE created_at IS NULL OR created_at <= %s", (AS_OF,)
        ).fetchone()[0]
        mode, finished, stats = conn.execute(
            "SELECT mode, finished_at, stats FROM scoring.runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        assert mode == "full" and finished is not None
        assert sum(stats[f"shard_{i}"]["leads"] for i in range(3)) == leads == stats["summary"]["leads"]
        assert conn.execute("SELECT count(*) FROM scoring.lead_scores").fetchone()[0] == leads
        assert conn.execute("SELECT count(*) FROM scoring.mql_crossings").fetchone()[0] > 0
        batches = conn.execute(
            "SELECT count(*), min(status), max(status) FROM scoring.writeback_batches WHERE system = 'sandbox_crm'"
        ).fetchone()
        assert batches[0] > 0 and batches[1:] == ("dry_run", "dry_run")
    first = outputs(dsn)

    # On demand: a full rescore of the same moment gives the same scores.
    states = run_dag("smarketing_scoring", run_conf={"as_of": AS_OF, "shards": 2, "full_rescore": True})
    assert_all_succeeded(states)
    assert outputs(dsn) == first
    with psycopg.connect(dsn) as conn:
        assert (
            conn.execute("SELECT mode FROM scoring.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
            == "full"
        )

    # The next night is incremental.
    states = run_dag("smarketing_scoring", run_conf={"as_of": "2026-11-17T02:00:00+00:00", "shards": 2})
    assert_all_succeeded(states)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT mode FROM scoring.runs ORDER BY started_at DESC LIMIT 1").fetchone()[
            0
        ] == ("incremental")
