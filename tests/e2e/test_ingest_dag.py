"""smarketing_ingest end to end: the sandbox world's exports → raw → core, through the real DAG."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from smarketing_sandbox.world import generate_world
from tests.integration.test_core_build import core_counts

from .conftest import run_dag

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]


def _core_events() -> list[dict]:
    """The extras of every `smarketing_core` asset event in the metadata DB, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "smarketing_core")
            .order_by(AssetEvent.id)
        )
        return [dict(extra or {}) for extra in session.scalars(query)]


def test_ingest_dag_lands_the_sandbox_world_into_core(
    airflow_ready: None, warehouse_env: str, tmp_path: Path
) -> None:
    world = tmp_path / "world"
    rows = generate_world(world, contacts=300, seed=11, days=60, end=datetime(2026, 11, 16, tzinfo=UTC))
    population = json.loads((world / "world.json").read_text())["population"]
    conf = {
        "file_sources": [
            {"mapping": "config/sources/sandbox_crm.yaml", "root": str(world)},
            {"mapping": "config/sources/sandbox_ma.yaml", "root": str(world)},
        ]
    }

    events = _core_events()
    states = run_dag("smarketing_ingest", run_conf=conf)
    # No API source configured: the API pull maps to no task (skipped); everything else succeeds.
    assert states.pop("extract_api_object") == "skipped", states
    assert set(states.values()) == {"success"}, states
    [event] = _core_events()[len(events) :]
    assert event["rows"]["leads"] == 300, event
    assert {"land_file_source[0]", "land_file_source[1]", "build_core"} <= set(states)

    counts = core_counts(warehouse_env)
    assert counts["leads"] == 300  # one lead per person, whichever systems know them
    assert counts["companies"] == population["companies"]
    assert counts["owners"] == rows["crm/owners.csv"]
    assert counts["marketing_events"] == rows["ma/activity.csv"]
    assert counts["sales_activities"] == rows["crm/engagements.csv"]
    assert counts["deals"] == rows["crm/deals.csv"]
    with psycopg.connect(warehouse_env) as conn:
        both = conn.execute(
            "SELECT count(*) FROM (SELECT lead_id FROM core.lead_sources GROUP BY lead_id HAVING count(*) = 2) x"
        ).fetchone()[0]
    assert both == population["contacts_in_both_systems"]

    # A second run over the same exports lands nothing and changes nothing.
    again = run_dag("smarketing_ingest", run_conf=conf)
    assert again.pop("extract_api_object") == "skipped", again
    # Nothing changed in core: no asset event, so nothing downstream starts.
    assert again.pop("publish_core") == "skipped", again
    assert set(again.values()) == {"success"}, again
    assert len(_core_events()) == len(events) + 1
    assert core_counts(warehouse_env) == counts


def test_ingest_without_any_source_fails_and_says_where_to_configure_one(
    airflow_ready: None, warehouse_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMARKETING_API_SOURCES", raising=False)
    monkeypatch.delenv("SMARKETING_FILE_SOURCES", raising=False)
    states = run_dag("smarketing_ingest")
    assert states["list_api_objects"] == "failed", states
    assert states["build_core"] != "success" and states["validate_core"] != "success", states
