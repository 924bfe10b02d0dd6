"""The process topology for the cluster tests: one deployment for the package, started once.

A sandbox world served over HTTP (HubSpot and Mautic), a fresh warehouse database, a fresh Airflow
metadata database, a Redis database as broker, and Airflow's components as separate processes with two
Celery workers. Tasks retry quickly (2 s first delay) so the fault tests see retries within seconds.

Everything a deployment holds is its own: a free API port, an Airflow home under the session's temp
folder, metadata and warehouse databases named by a random tag, and a broker database no other
deployment on the machine holds (`claim_redis_db`: other test sessions, CI runs, bench/cluster.py).
The `xdist_group` mark on the cluster tests keeps them on one xdist worker, so one session starts one
deployment, never at the same time as the standalone Airflow server of tests/e2e. The fixtures are
package-scoped: the deployment stops once the last cluster test is done, not when the worker has run
the rest of the suite (an idle deployment still parses DAGs every 5 s and runs the hourly ingest).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from tests.cluster.topology import REDIS_URL, SERVER_DSN, Cluster, claim_redis_db
from tests.integration.sandbox_support import make_world, sandbox
from tests.smtp_sink import Sink, smtp_sink

SHARDS = 4
ONCALL = "oncall@northwind.example"
DAGS = ("smarketing_ingest", "smarketing_scoring", "smarketing_nurture", "smarketing_kpi")


@pytest.fixture(scope="package")
def cluster_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("cluster") / "world", contacts=240, days=40)


@pytest.fixture(scope="package")
def cluster_sandbox(cluster_world: Path) -> Iterator:
    with sandbox(cluster_world) as server:
        yield server


@pytest.fixture(scope="package")
def cluster_mail() -> Iterator[Sink]:
    """A local SMTP server the deployment's failure and deadline notices go to."""
    with pytest.MonkeyPatch.context() as patch, smtp_sink(patch, "smtp_cluster") as sink:
        yield sink


@pytest.fixture(scope="package")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, cluster_sandbox, cluster_mail: Sink
) -> Iterator[Cluster]:
    """A running deployment whose tasks write to a warehouse of their own (`cluster.warehouse_dsn`)."""
    _require_redis()
    redis_db, broker_lock = claim_redis_db()
    tag = uuid.uuid4().hex[:8]
    warehouse = with_database(SERVER_DSN, f"smk_cluster_wh_{tag}")
    migrate.upgrade(warehouse)
    home = tmp_path_factory.mktemp("airflow-cluster")
    deployment = Cluster(
        home,
        port=_free_port(),
        metadata_db=f"smk_cluster_{tag}",
        redis_db=redis_db,
        broker_lock=broker_lock,
        warehouse_dsn=warehouse,
        extra_env={
            "AIRFLOW_CONN_SMARKETING_HUBSPOT": cluster_sandbox.hubspot_connection(),
            "AIRFLOW_CONN_SMARKETING_MAUTIC": cluster_sandbox.mautic_connection(),
            "SMARKETING_TASK_RETRIES": "3",
            "SMARKETING_TASK_RETRY_DELAY": "2",
            "SMARKETING_SCORING_SHARDS": str(SHARDS),
            "AIRFLOW_CONN_SMTP_CLUSTER": os.environ["AIRFLOW_CONN_SMTP_CLUSTER"],
            "SMARKETING_FAILURE_ALERTS": json.dumps({"to": ONCALL, "smtp_conn_id": "smtp_cluster"}),
        },
    )
    deployment.prepare(fresh=True)
    try:
        deployment.up()
        # Unpausing starts each scheduled DAG's latest interval: let those runs finish first.
        deployment.unpause(*DAGS)
        deployment.settle()
        yield deployment
    finally:
        deployment.down()
        drop_database(warehouse)


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL} for the Celery broker ({exc}): apt-get install redis-server")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
