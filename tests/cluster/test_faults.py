"""Faults survived end to end on the process topology: warehouse connections killed in the middle of
ingest, a Celery worker SIGKILLed in the middle of a scoring shard, the same DAG run run twice."""

from __future__ import annotations

import psycopg
import pytest

from smarketing.scoring.runner import BUILD_LOCK_KEY
from tests.cluster.conftest import SHARDS
from tests.cluster.topology import Cluster, wait_sql
from tests.conftest import empty_warehouse
from tests.e2e.airflow_server import XDIST_GROUP
from tests.integration.sandbox_support import (
    assert_raw_matches,
    expected_hubspot,
    expected_mautic,
    hubspot_entry,
    mautic_entry,
)

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group(XDIST_GROUP)]

INGEST_CONF = {"file_sources": [], "api_sources": [hubspot_entry(), mautic_entry()]}
AS_OF = "2026-12-01T02:00:00+00:00"
SCORE_COLUMNS = "lead_id, fit, engagement, total, grade, engagement_band, priority, is_mql, profile_id"


def scores(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT {SCORE_COLUMNS} FROM scoring.lead_scores ORDER BY lead_id").fetchall()


def run_ok(cluster: Cluster, dag_id: str, conf: dict) -> str:
    run_id = cluster.trigger(dag_id, conf)
    assert cluster.wait_run(dag_id, run_id) == "success", cluster.failures(dag_id, run_id)
    return run_id


# The backends blocked on the holder's lock: extraction transactions that have written a page's records
# and wait to save the sync state that covers them.
_WAITING_LANDINGS = """
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend'
      AND wait_event_type = 'Lock' AND query ILIKE '%ops.sync_state%'
"""


def kill_landings_mid_page(cluster: Cluster, dsn: str, dag_id: str, conf: dict) -> tuple[str, int]:
    """Trigger `dag_id` while ops.sync_state is locked against writes, then terminate every extraction caught
    between landing a page's records and committing its state; the run goes on once the lock is released.

    Deterministic on any machine: the fault does not depend on catching a connection busy by polling.
    """
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE ops.sync_state IN SHARE MODE")  # readers pass, page commits wait
        run_id = cluster.trigger(dag_id, conf)
        wait_sql(dsn, f"SELECT count(*) {_WAITING_LANDINGS}", timeout=600)
        with psycopg.connect(dsn, autocommit=True) as killer:
            killed = killer.execute(
                f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) {_WAITING_LANDINGS}"
            ).fetchone()[0]
        holder.execute("ROLLBACK")
    return run_id, killed


def test_warehouse_connections_killed_mid_ingest_lose_and_duplicate_nothing(
    cluster: Cluster, cluster_sandbox
) -> None:
    dsn = cluster.warehouse_dsn
    cluster.settle()
    empty_warehouse(dsn)
    run_id, killed = kill_landings_mid_page(cluster, dsn, "smarketing_ingest", INGEST_CONF)
    assert killed > 0
    assert cluster.wait_run("smarketing_ingest", run_id) == "success", cluster.failures(
        "smarketing_ingest", run_id
    )
    tis = cluster.task_instances("smarketing_ingest", run_id)
    assert max(t["try_number"] for t in tis if t["task_id"] == "extract_api_object") > 1
    # Every record of the sandbox world once per version, nothing extra, each at its latest version.
    assert_raw_matches(dsn, "hubspot", expected_hubspot(cluster_sandbox.world))
    assert_raw_matches(dsn, "mautic", expected_mautic(cluster_sandbox.world))


def test_worker_killed_mid_shard_is_retried_and_scores_equal_a_clean_run(cluster: Cluster) -> None:
    dsn = cluster.warehouse_dsn
    cluster.settle()
    full = {"full_rescore": True, "shards": SHARDS, "as_of": AS_OF}
    run_ok(cluster, "smarketing_scoring", full)
    clean = scores(dsn)
    assert clean

    # Hold the lock every shard takes inside its transaction: shards start, then wait mid-transaction.
    with psycopg.connect(dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK_KEY,))
        run_id = cluster.trigger("smarketing_scoring", full)
        wait_sql(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            timeout=600,
        )
        running = [
            t
            for t in cluster.task_instances("smarketing_scoring", run_id)
            if t["task_id"] == "score_shard" and t["state"] == "running"
        ]
        assert running, "a shard waits on the lock but none is running"
        victim = running[0]["hostname"]
        cluster.stopped.add(victim)
        cluster.script("kill", victim)  # SIGKILL to the worker and its task processes
        holder.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK_KEY,))
    try:
        state = cluster.wait_run("smarketing_scoring", run_id)
    finally:
        cluster.script("start", victim)
        cluster.stopped.discard(victim)
    assert state == "success", cluster.failures("smarketing_scoring", run_id)
    shards = [
        t for t in cluster.task_instances("smarketing_scoring", run_id) if t["task_id"] == "score_shard"
    ]
    retried = [t for t in shards if t["try_number"] > 1]
    assert retried, [(t["map_index"], t["hostname"], t["try_number"]) for t in shards]
    assert all(t["hostname"] != victim for t in retried)
    assert scores(dsn) == clean


def test_the_same_run_twice_sends_nothing_twice(cluster: Cluster, cluster_sandbox) -> None:
    dsn = cluster.warehouse_dsn
    cluster.settle()
    stats = cluster_sandbox.state
    conf = {
        "full_rescore": True,
        "shards": SHARDS,
        "writeback": [{"system": "hubspot", "api": "hubspot", "dry_run": False}],
    }
    run_id = run_ok(cluster, "smarketing_scoring", conf)
    cluster.settle()  # the nurturing and KPI runs the new scores started
    sent = stats.snapshot()["counters"].get("writeback.records", 0)
    nurture_writes = _nurture_writes(cluster_sandbox)
    # Calls the sandbox saw applied twice so far (an earlier test emptied the ledger on purpose).
    repeated = stats.nurture.snapshot()["repeated"]
    with psycopg.connect(dsn) as conn:
        enrollments = conn.execute("SELECT count(*) FROM nurture.enrollments").fetchone()[0]
    assert sent > 0 and enrollments > 0 and nurture_writes > 0

    # The same scoring run again (cleared in full, as from the UI): it starts nurturing again too.
    cluster.api(
        "POST",
        "/dags/smarketing_scoring/clearTaskInstances",
        json={"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True},
    )
    assert cluster.wait_run("smarketing_scoring", run_id) == "success", cluster.failures(
        "smarketing_scoring", run_id
    )
    cluster.settle()
    assert stats.snapshot()["counters"].get("writeback.records", 0) == sent
    assert _nurture_writes(cluster_sandbox) == nurture_writes
    assert stats.nurture.snapshot()["repeated"] == repeated
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM nurture.enrollments").fetchone()[0] == enrollments


def _nurture_writes(server) -> int:
    arrivals = server.state.nurture.snapshot()["arrivals"]
    return sum(n for name, n in arrivals.items() if not name.startswith("GET"))
