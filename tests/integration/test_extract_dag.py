"""smarketing_ingest with API sources: the sandbox APIs → raw → core through the real DAG (dag.test())."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from smarketing.sources.mautic import settings as mautic
from smarketing_sandbox import api_segments
from tests.e2e import conftest as e2e
from tests.integration.sandbox_support import (
    assert_raw_matches,
    expected_hubspot,
    expected_mautic,
    hubspot_entry,
    make_world,
    mautic_entry,
    sandbox,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

# The e2e fixtures: a migrated Airflow metadata DB, tasks pointed at the test warehouse.
airflow_ready = e2e.airflow_ready
warehouse_env = e2e.warehouse_env


def run_dag(dag_id: str, *, run_conf: dict) -> dict[str, str]:
    """A run at a logical date of its own: runs left at the same date by an earlier session (same
    metadata DB) would otherwise collide with this one."""
    import pendulum

    return e2e.run_dag(dag_id, run_conf=run_conf, logical_date=pendulum.now("UTC"))


def _core(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM core.{t}").fetchone()[0]
            for t in (
                "leads",
                "companies",
                "owners",
                "deals",
                "sales_activities",
                "marketing_events",
                "segment_memberships",
            )
        }


def test_ingest_dag_pulls_both_apis_into_core(
    airflow_ready: None, warehouse_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world_dir = make_world(tmp_path / "world", contacts=150, days=30)
    with sandbox(world_dir) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", server.hubspot_connection())
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_MAUTIC", server.mautic_connection())
        conf = {"file_sources": [], "api_sources": [hubspot_entry(), mautic_entry()]}
        states = run_dag("smarketing_ingest", run_conf=conf)
        # No file source: that mapped task has nothing to do and is skipped; everything else succeeds.
        assert states.pop("land_file_source") == "skipped"
        assert set(states.values()) == {"success"}, states
        mapped = [k for k in states if k.startswith("extract_api_object[")]
        assert len(mapped) == len(hubspot_entry()["objects"]) + len(mautic.DEFAULT_OBJECTS)
        assert_raw_matches(warehouse_env, "hubspot", expected_hubspot(server.world))
        assert_raw_matches(warehouse_env, "mautic", expected_mautic(server.world))
        counts = _core(warehouse_env)
        assert counts["owners"] == len(server.world.table("hubspot.owners"))
        assert counts["deals"] == len(server.world.table("hubspot.deals"))
        assert counts["marketing_events"] > 0 and counts["sales_activities"] > 0
        assert counts["segment_memberships"] == len(api_segments.memberships(server.world))

        # The next hour: some records changed; only they land, and core follows.
        server.world.mutate(updates=10, creates=3, events=12)
        again = run_dag("smarketing_ingest", run_conf=conf)
        assert again.pop("land_file_source") == "skipped"
        assert set(again.values()) == {"success"}, again
        assert_raw_matches(warehouse_env, "hubspot", expected_hubspot(server.world))
        assert_raw_matches(warehouse_env, "mautic", expected_mautic(server.world))
        assert _core(warehouse_env)["marketing_events"] >= counts["marketing_events"] + 1


def test_with_no_source_at_all_the_run_fails_at_once(airflow_ready: None, warehouse_env: str) -> None:
    """Nothing to pull and nothing to land is a configuration problem: the run fails at the listing,
    names where to configure a source, and builds nothing (it used to go green and emit the asset)."""
    states = run_dag("smarketing_ingest", run_conf={"file_sources": []})
    assert states["list_api_objects"] == "failed", states
    assert states["build_core"] == "upstream_failed", states
    assert "publish_core" not in {t for t, s in states.items() if s == "success"}, states
    assert set(_core(warehouse_env).values()) == {0}
