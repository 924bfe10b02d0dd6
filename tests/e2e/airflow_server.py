"""A real `airflow standalone`, started the way `make airflow` starts it (scripts/airflow-standalone.sh).

    from tests.e2e.airflow_server import running_airflow

    with running_airflow(tmp_path, warehouse_dsn=dsn) as server:
        server.url                        # http://localhost:<port>, a free port other than 8080
        server.username, server.password  # the admin login the script printed
        server.metadata_dsn, server.home  # its metadata DB (PostgreSQL) and Airflow home
        server.token()                    # a JWT from POST /auth/token, as the UI gets one
        server.api("GET", "/api/v2/dags")  # REST call with that token; raises on an HTTP error
        server.trigger("smarketing_ingest", conf={})  # unpause + trigger, as the UI's Trigger button
        server.wait_for_run("smarketing_ingest", run_id)  # -> final state, timeout generous

The server gets its own Airflow home under `tmp_path`, its own metadata database on the test
PostgreSQL server (dropped afterwards), and in sandbox mode (the default, as `make airflow`) a small
sandbox world on a free port. Leaving the block stops every process it started (the whole process
group) and waits for them. Starting takes a minute or more on a busy machine; share one server per
test module, and put the tests in the `airflow_standalone` xdist group so two never run at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from smarketing.paths import PROJECT_ROOT
from smarketing.warehouse.connection import drop_database, ensure_database, with_database

XDIST_GROUP = "airflow_standalone"
START_TIMEOUT_S = 600
FINAL_STATES = {"success", "failed"}
# Settings of the test process that must not leak into the server: it configures itself like a user's.
_NOT_INHERITED_PREFIXES = ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__", "SMARKETING_")


def free_port() -> int:
    """A free TCP port on the loopback interface, never 8080 (the default the tests must not rely on)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 8080:
            return port


@dataclass
class AirflowServer:
    """A running standalone Airflow: where it is, its admin login, and small REST helpers."""

    url: str
    username: str
    password: str
    home: Path
    sandbox_url: str | None
    log_path: Path
    metadata_dsn: str
    _token: str | None = field(default=None, repr=False)

    def token(self) -> str:
        """A JWT for the REST API from `POST /auth/token` with the admin login (cached)."""
        if self._token is None:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=60,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, json_body: Any = None, *, ok: tuple[int, ...] = ()) -> Any:
        """Call the REST API (`path` like `/api/v2/dags`) with the token; returns the decoded JSON.

        Raises AssertionError naming the status and body for a status >= 400 not listed in `ok`.
        """
        response = requests.request(
            method,
            f"{self.url}{path}",
            json=json_body,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=120,
        )
        if response.status_code >= 400 and response.status_code not in ok:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, **fields: Any) -> str:
        """Unpause `dag_id` and trigger a run with `conf`, as the UI's Trigger form does; the run id.

        `fields` go into the request body too (e.g. `logical_date`)."""
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        body = {"logical_date": None, "conf": dict(conf or {}), **fields}
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 900) -> str:
        """Wait until the run is success or failed; returns that state (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            state = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in FINAL_STATES:
                return state
            time.sleep(3)
        raise AssertionError(
            f"{dag_id} run {run_id} still {state} after {timeout_s:.0f}s: {self.task_states(dag_id, run_id)}"
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones one per map index), as the REST API gives them."""
        found = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return found["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """{task_id or task_id[map_index]: state} of the run."""
        return {
            ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]": ti["state"]
            for ti in self.task_instances(dag_id, run_id)
        }

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The text of one try's log, as the UI shows it."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        found = self.api("GET", f"{path}?map_index={map_index}&full_content=true")
        content = found.get("content", [])
        if isinstance(content, str):
            return content
        return "\n".join(
            str(part.get("event", part)) if isinstance(part, dict) else str(part) for part in content
        )


def _server_env(
    home: Path, port: int, sandbox_port: int, warehouse_dsn: str, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED_PREFIXES)}
    env.pop("PYTHONPATH", None)  # the script puts this checkout's include/ first itself
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW_PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        SANDBOX_WORLD=str(home / "world"),
        SANDBOX_CONTACTS="300",
        SANDBOX_DAYS="30",
        SMARKETING_WAREHOUSE_DSN=warehouse_dsn,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=with_database(
            warehouse_dsn, f"smk_airflow_{uuid.uuid4().hex[:8]}"
        ),
    )
    env.update(extra)
    return env


def _wait_until_up(process: subprocess.Popen, url: str, password_file: Path, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make airflow exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            healthy = requests.get(f"{url}/api/v2/monitor/health", timeout=5).ok
        except requests.RequestException:
            healthy = False
        # The script prints its banner (URL, login) once the API answers: then it is ready.
        if healthy and password_file.exists() and "Smarketing on Airflow:" in log_path.read_text():
            return json.loads(password_file.read_text())["admin"]
        time.sleep(2)
    raise AssertionError(f"Airflow did not answer on {url} within {START_TIMEOUT_S}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole process group (script, standalone and its children, the sandbox), then wait."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    # Children that outlived the script (the process group outlives its leader).
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        time.sleep(5)


@contextmanager
def running_airflow(
    tmp_path: Path,
    *,
    warehouse_dsn: str,
    port: int | None = None,
    sandbox: str = "auto",
    env: Mapping[str, str] | None = None,
) -> Iterator[AirflowServer]:
    """Start `scripts/airflow-standalone.sh` (what `make airflow` runs) and yield the running server.

    `tmp_path`: a directory for its Airflow home, sandbox world and output log; `warehouse_dsn`: the
    warehouse its tasks write to (the test's fresh database); `port`: the UI/API port (default: a free
    one, never 8080); `sandbox`: SMARKETING_SANDBOX (auto, on, off); `env`: more environment for the
    server (e.g. SMARKETING_TASK_RETRIES). Its metadata database is created on the warehouse's
    server and dropped when the block ends.
    """
    port = port or free_port()
    sandbox_port = free_port()
    server_env = _server_env(
        tmp_path, port, sandbox_port, warehouse_dsn, {"SMARKETING_SANDBOX": sandbox, **(env or {})}
    )
    metadata_dsn = server_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    ensure_database(metadata_dsn)
    log_path = tmp_path / "make-airflow.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / "scripts" / "airflow-standalone.sh")],
            cwd=PROJECT_ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    try:
        url = f"http://localhost:{port}"
        password = _wait_until_up(
            process, url, tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated", log_path
        )
        sandbox_url = f"http://127.0.0.1:{sandbox_port}" if "sandbox: on" in log_path.read_text() else None
        yield AirflowServer(url, "admin", password, tmp_path / "airflow", sandbox_url, log_path, metadata_dsn)
    finally:
        _stop(process)
        drop_database(metadata_dsn)
