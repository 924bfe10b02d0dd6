"""The whole nightly cycle on the process topology: runs triggered through the REST API, tasks on two
Celery workers, the sandbox APIs as sources, every step's rows in the warehouse."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest

from tests.cluster.conftest import ONCALL, SHARDS
from tests.cluster.topology import Cluster
from tests.e2e.airflow_server import XDIST_GROUP
from tests.integration.sandbox_support import hubspot_entry, mautic_entry

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group(XDIST_GROUP)]

INGEST_CONF = {"file_sources": [], "api_sources": [hubspot_entry(), mautic_entry()]}


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def states(tis: list[dict]) -> Counter:
    return Counter((ti["task_id"], ti["state"]) for ti in tis)


def wait_asset_run(cluster: Cluster, dag_id: str, after: str) -> dict:
    """The first run of an asset-triggered DAG that started after `after` (ISO time), once finished."""
    import time

    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        runs = [r for r in cluster.runs(dag_id) if r["run_after"] >= after]
        if runs:
            run = runs[0]
            state = cluster.wait_run(dag_id, run["dag_run_id"])
            return {**run, "state": state}
        time.sleep(2)
    raise TimeoutError(f"no {dag_id} run after {after}")


def test_full_cycle_runs_on_two_workers(cluster: Cluster) -> None:
    dsn = cluster.warehouse_dsn
    ingest = cluster.trigger("smarketing_ingest", INGEST_CONF)
    assert cluster.wait_run("smarketing_ingest", ingest) == "success", cluster.failures(
        "smarketing_ingest", ingest
    )
    leads = count(dsn, "core.leads")
    assert leads > 200

    scoring = cluster.trigger("smarketing_scoring", {"full_rescore": True, "shards": SHARDS})
    assert cluster.wait_run("smarketing_scoring", scoring) == "success", cluster.failures(
        "smarketing_scoring", scoring
    )
    tis = cluster.task_instances("smarketing_scoring", scoring)
    shards = [ti for ti in tis if ti["task_id"] == "score_shard"]
    assert len(shards) == SHARDS and {ti["state"] for ti in shards} == {"success"}
    # The shards ran on both workers, from the Celery queue every worker listens on.
    assert {ti["hostname"] for ti in shards} == {"worker-1", "worker-2"}, [
        (ti["map_index"], ti["hostname"]) for ti in shards
    ]
    assert {ti["queue"] for ti in shards} == {"default"}
    assert count(dsn, "scoring.lead_scores") == count(dsn, "core.leads WHERE deleted_at IS NULL")

    # Nurturing and the KPI build follow on the lead_scores asset, with no trigger of ours.
    scored_at = next(ti["start_date"] for ti in tis if ti["task_id"] == "finalize")
    for dag_id in ("smarketing_nurture", "smarketing_kpi"):
        run = wait_asset_run(cluster, dag_id, scored_at[:19])
        assert run["state"] == "success", cluster.failures(dag_id, run["dag_run_id"])
    assert count(dsn, "nurture.enrollments") > 0
    assert count(dsn, "kpi.funnel_monthly") > 0


def test_a_run_past_its_deadline_mails_one_notice(cluster: Cluster, cluster_mail) -> None:
    """An hourly ingest run whose interval ended a day ago is past its deadline from the start: the
    scheduler marks it missed and the triggerer runs the callback, which mails the on-call address."""
    import time
    from datetime import UTC, datetime, timedelta

    logical = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    run_id = cluster.trigger("smarketing_ingest", INGEST_CONF, logical_date=logical.isoformat())
    assert cluster.wait_run("smarketing_ingest", run_id) == "success", cluster.failures(
        "smarketing_ingest", run_id
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        # A long subject comes folded over lines.
        notices = [m for m in cluster_mail.to(ONCALL) if run_id in m["Subject"].replace("\n", "")]
        if notices:
            break
        time.sleep(2)
    assert len(notices) == 1, cluster_mail.subjects()
    (html,) = [p for p in notices[0].walk() if p.get_content_type() == "text/html"]
    text = html.get_payload(decode=True).decode()
    assert "Deadline missed" in text and "smarketing_ingest" in text
