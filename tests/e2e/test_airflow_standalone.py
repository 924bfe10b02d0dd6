"""`make airflow` as a user meets it: standalone Airflow on a non-default port, in sandbox mode, and a
press of Trigger on smarketing_ingest through the REST API (a real JWT from /auth/token) lands data.

One server for the whole module (starting one takes minutes on a busy machine); the module's tests run
in order on it, in the `airflow_standalone` xdist group so no other standalone starts beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import requests

from smarketing.paths import PROJECT_ROOT
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from tests.conftest import SERVER_DSN
from tests.e2e.airflow_server import XDIST_GROUP, AirflowServer, running_airflow

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group(XDIST_GROUP), pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def standalone_warehouse() -> Iterator[str]:
    """A warehouse of its own: other tests of this worker truncate the session's one."""
    dsn = with_database(SERVER_DSN, f"smk_test_standalone_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    yield dsn
    drop_database(dsn)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, standalone_warehouse: str) -> Iterator[AirflowServer]:
    with running_airflow(tmp_path_factory.mktemp("standalone"), warehouse_dsn=standalone_warehouse) as found:
        yield found


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_start_says_where_everything_is(server: AirflowServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    assert port != 8080
    printed = server.log_path.read_text()
    assert f"Smarketing on Airflow: {server.url}" in printed
    assert f"login:      admin / {server.password}" in printed
    assert "sandbox:    on" in printed and server.sandbox_url is not None
    # The UI lists the connection types the docs use (this package's provider: hubspot, mautic).
    conns = server.api("GET", "/api/v2/connections?limit=100")["connections"]
    assert {c["connection_id"]: c["conn_type"] for c in conns} == {
        "smarketing_hubspot": "hubspot",
        "smarketing_mautic": "mautic",
    }


def test_trigger_ingest_lands_the_sandbox(server: AirflowServer, standalone_warehouse: str) -> None:
    run_id = server.trigger("smarketing_ingest")
    state = server.wait_for_run("smarketing_ingest", run_id)
    states = server.task_states("smarketing_ingest", run_id)
    assert state == "success", states
    assert all(s in ("success", "skipped") for s in states.values()), states
    assert _count(standalone_warehouse, "core.leads") > 100
    assert _count(standalone_warehouse, "core.marketing_events") > 0
    labels = {
        ti["rendered_map_index"]
        for ti in server.task_instances("smarketing_ingest", run_id)
        if ti["task_id"] == "extract_api_object"
    }
    assert {"hubspot/contacts", "hubspot/deals", "mautic/contacts"} <= labels, labels


def test_object_list_params_as_the_trigger_form_sends_them(server: AirflowServer) -> None:
    """The form's JSON editor sends a list of objects: accepted. Strings in the list (a plain text
    area, one JSON text per line) are refused at once, naming the param and what it expects."""
    refused = requests.post(
        f"{server.url}/api/v2/dags/smarketing_ingest/dagRuns",
        json={"logical_date": None, "conf": {"api_sources": ['{"system": "mautic"}']}},
        headers={"Authorization": f"Bearer {server.token()}"},
        timeout=120,
    )
    assert refused.status_code == 400, refused.text
    assert "api_sources" in refused.text and "object" in refused.text, refused.text
    bad_key = server.api(
        "POST",
        "/api/v2/dags/smarketing_scoring/dagRuns",
        {"logical_date": None, "conf": {"writeback": [{"system": "hubspot", "api": "salesforce"}]}},
        ok=(400,),
    )
    assert "writeback" in str(bad_key) and "salesforce" in str(bad_key), bad_key

    run_id = server.trigger(
        "smarketing_ingest", {"api_sources": [{"system": "mautic", "objects": ["contacts"]}]}
    )
    assert server.wait_for_run("smarketing_ingest", run_id) == "success"
    labels = [
        ti["rendered_map_index"]
        for ti in server.task_instances("smarketing_ingest", run_id)
        if ti["task_id"] == "extract_api_object"
    ]
    assert labels == ["mautic/contacts"]


def test_a_real_connection_switches_the_sandbox_off(server: AirflowServer) -> None:
    """A connection a person edited is real: the next start leaves it alone and removes the sandbox's."""
    server.api(
        "PATCH",
        "/api/v2/connections/smarketing_hubspot?update_mask=description",
        {"connection_id": "smarketing_hubspot", "conn_type": "hubspot", "description": "our portal"},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "SMARKETING_"))}
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = server.metadata_dsn
    env["PYTHONPATH"] = str(PROJECT_ROOT / "include")
    done = subprocess.run(
        [sys.executable, "-m", "smarketing_sandbox.cli", "airflow-setup", "--url", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "off"
    assert "real sources configured (smarketing_hubspot)" in done.stderr
    ids = {c["connection_id"] for c in server.api("GET", "/api/v2/connections")["connections"]}
    assert ids == {"smarketing_hubspot"}
    variables = {v["key"] for v in server.api("GET", "/api/v2/variables")["variables"]}
    assert not variables & {"smarketing_api_sources", "smarketing_file_sources"}
