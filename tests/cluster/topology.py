"""Airflow's production topology on one machine, without Docker: the helper behind `make cluster` and
the cluster tests.

`Cluster` prepares what the processes share — a PostgreSQL metadata database, a Redis database as the
Celery broker, one JWT secret and Fernet key, the admin password — writes them to `<home>/env`, and
starts the components through `scripts/cluster.sh` (api-server, scheduler, dag-processor, triggerer,
Celery workers). Runs are triggered and watched through Airflow's REST API with a real JWT token.

    python -m tests.cluster.topology up      # what `make cluster` runs; `down` stops it
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from smarketing.warehouse.connection import drop_database, ensure_database, with_database

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"
SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SMARKETING_CLUSTER_REDIS", "redis://127.0.0.1:6379")
FINISHED = {"success", "failed"}

# Redis databases the throwaway deployments (tests, bench/cluster.py) take turns on; `make cluster` uses 0.
THROWAWAY_REDIS_DBS = range(13, 16)


class ApiError(RuntimeError):
    """An answer of the REST API with an error status."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path}: {status} {text}")
        self.status = status


def claim_redis_db(candidates: range = THROWAWAY_REDIS_DBS) -> tuple[int, IO[str]]:
    """A Redis database no other deployment on this machine uses, and the open lock file that holds it.

    Two deployments on one broker database run each other's tasks, and test sessions, CI runs and
    benchmarks share the machine's Redis. Each database has a lock file in the temp folder; the first
    whose `flock` is free is ours until the file is closed. The deployment's processes inherit the open
    file (`Cluster.broker_lock`): a worker that outlives its test session (the session was killed)
    keeps the database taken, so no later deployment has its tasks taken by that orphan.
    """
    for db in candidates:
        lock = (Path(tempfile.gettempdir()) / f"smarketing-cluster-redis-db{db}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return db, lock
    raise RuntimeError(
        f"every Redis database {candidates.start}-{candidates.stop - 1} at {REDIS_URL} is taken by another "
        f"deployment on this machine (lock files smarketing-cluster-redis-db*.lock in {tempfile.gettempdir()})"
    )


def worker_hostname() -> str:
    """The name a worker records on the task instances it runs (`[core] hostname_callable`).

    Workers on one machine share its host name; each gets its own through SMARKETING_WORKER_HOSTNAME.
    """
    import socket

    return os.environ.get("SMARKETING_WORKER_HOSTNAME") or socket.getfqdn()


@dataclass
class Cluster:
    """One local Airflow deployment: its folder, API port, metadata DB, broker and warehouse."""

    home: Path
    port: int = 8080
    metadata_db: str = "smarketing_airflow_cluster"
    redis_db: int = 0
    warehouse_dsn: str = "postgresql://postgres@127.0.0.1:5432/smarketing"
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    # The lock file of `claim_redis_db`, handed down to every component (None: `make cluster`, DB 0).
    broker_lock: IO[str] | None = None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    _token: str | None = None
    # Components a test stopped on purpose (a SIGKILLed worker): their absence is not a failure.
    stopped: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_dsn(self) -> str:
        return with_database(SERVER_DSN, self.metadata_db)

    def env(self) -> dict[str, str]:
        """The configuration every component shares (what `<home>/env` exports)."""
        sqlalchemy = self.metadata_dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
        return {
            "AIRFLOW_HOME": str(self.home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy,
            "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_URL}/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_dsn,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # One secret for every component: tokens the api-server issues are checked by the others.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret", 32),
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet_key", 32, fernet=True),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.cluster.topology.worker_hostname",
            # A worker that died mid-task is noticed within seconds, not the default five minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW_CONN_SMARKETING_WAREHOUSE": self.warehouse_dsn,
            "SMARKETING_WAREHOUSE_DSN": self.warehouse_dsn,
            "PYTHONPATH": f"{ROOT / 'include'}:{ROOT}",
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
            "CLUSTER_PORT": str(self.port),
            "CLUSTER_WORKERS": str(self.workers),
            # Log servers: the triggerer's on base, worker n's on base + n (defaults would clash between
            # deployments on one machine).
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.port + 100),
            "CLUSTER_LOG_PORT_BASE": str(self.port + 100),
            **self.extra_env,
        }

    def _secret(self, name: str, size: int, *, fernet: bool = False) -> str:
        """A secret kept in the cluster folder: generated once, the same for every component and restart."""
        path = self.home / name
        if not path.exists():
            raw = os.urandom(size)
            path.write_text(base64.urlsafe_b64encode(raw).decode() if fernet else raw.hex())
            path.chmod(0o600)
        return path.read_text().strip()

    # -- lifecycle --------------------------------------------------------------------------------
    def prepare(self, *, fresh: bool) -> None:
        """Metadata DB (fresh or kept), broker DB emptied, env file written, Airflow migrated."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "airflow").mkdir(exist_ok=True)
        if fresh:
            drop_database(self.metadata_dsn)
        ensure_database(self.metadata_dsn)
        if fresh:  # a running deployment keeps its queued tasks
            self._flush_broker()
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({"admin": self.password}) + "\n")
        passwords.chmod(0o600)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]
        (self.home / "env").write_text("\n".join(lines) + "\n")
        self.airflow("db", "migrate")
        subprocess.run(
            [sys.executable, "-m", "smarketing.cli", "db", "upgrade", "--dsn", self.warehouse_dsn],
            env=self._process_env(),
            check=True,
            capture_output=True,
        )

    def _flush_broker(self) -> None:
        import redis

        redis.Redis.from_url(f"{REDIS_URL}/{self.redis_db}").flushdb()

    def _process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env(), "CLUSTER_HOME": str(self.home)}

    def airflow(self, *args: str) -> str:
        """Run an `airflow` CLI command against this deployment; its output."""
        done = subprocess.run(["airflow", *args], env=self._process_env(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def script(self, *args: str) -> str:
        done = subprocess.run(
            [str(SCRIPT), *args],
            env=self._process_env(),
            capture_output=True,
            text=True,
            pass_fds=(self.broker_lock.fileno(),) if self.broker_lock else (),
        )
        if done.returncode:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def up(self, *, timeout: float = 600) -> None:
        """Start every component; return once the API answers and every worker has registered."""
        self.script("up")
        self.wait_healthy(timeout)

    def down(self) -> None:
        """Stop every component, drop a throwaway metadata DB, give the broker database back."""
        self.script("down")
        if self.metadata_db.startswith("smk_cluster_"):
            drop_database(self.metadata_dsn)
        if self.broker_lock:
            self.broker_lock.close()
            self.broker_lock = None

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                states = {k: v.get("status") for k, v in health.items() if isinstance(v, Mapping)}
                if (
                    all(
                        states.get(k) == "healthy"
                        for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                    )
                    and len(self.celery_workers()) >= self.workers
                ):
                    return
                last = json.dumps(states)
            except requests.RequestException as exc:
                last = str(exc)
            self._check_alive()
            time.sleep(2)
        raise TimeoutError(f"cluster not healthy after {timeout:.0f} s: {last}\n{self.logs_tail()}")

    def _check_alive(self) -> None:
        down = [
            line
            for line in self.script("status").splitlines()
            if line.endswith(" down") and line.split()[0] not in self.stopped
        ]
        if down:
            raise RuntimeError(f"cluster component(s) exited: {down}\n{self.logs_tail()}")

    def celery_workers(self) -> list[str]:
        """Node names of the Celery workers answering a ping (`worker-1@host`, ...)."""
        from celery import Celery

        app = Celery(broker=f"{REDIS_URL}/{self.redis_db}")
        replies = app.control.ping(timeout=2) or []
        return sorted(name for reply in replies for name in reply)

    def logs_tail(self, lines: int = 12) -> str:
        out = []
        for log in sorted((self.home / "log").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    # -- REST API ---------------------------------------------------------------------------------
    def token(self) -> str:
        """A JWT from the api-server for the admin user (`POST /auth/token`)."""
        if self._token is None:
            reply = requests.post(
                f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30
            )
            reply.raise_for_status()
            self._token = reply.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call. On a loaded machine the api-server can take longer than a read timeout to
        answer; every call made here is idempotent (triggers carry their run id, and a repeated one
        answers 409), so a timed-out or dropped call is simply made again."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        for attempt in Retrying(
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout)),
            stop=stop_after_attempt(4),
            wait=wait_fixed(5),
            reraise=True,
        ):
            with attempt:
                reply = requests.request(
                    method, f"{self.url}/api/v2{path}", headers=headers, timeout=60, **kwargs
                )
        if reply.status_code >= 400:
            raise ApiError(method, path, reply.status_code, reply.text[:1000])
        return reply.json() if reply.content else None

    def wait_dag(self, dag_id: str, timeout: float = 300) -> None:
        """Wait until the dag-processor has parsed the DAG, then unpause it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
                return
            except ApiError as exc:
                if exc.status != 404:
                    raise
            time.sleep(2)
        raise TimeoutError(f"DAG {dag_id} not parsed after {timeout:.0f} s\n{self.logs_tail()}")

    def trigger(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        *,
        logical_date: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Trigger a run through the REST API; its run id."""
        self.wait_dag(dag_id)
        run_id = run_id or f"cluster__{dag_id}__{secrets.token_hex(6)}"
        body: dict[str, Any] = {"conf": dict(conf or {}), "logical_date": logical_date, "dag_run_id": run_id}
        try:
            self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)
        except ApiError as exc:
            # A retried trigger whose first attempt reached the server: the run exists already.
            if exc.status != 409:
                raise
        return run_id

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in FINISHED:
                return state
            self._check_alive()
            time.sleep(2)
        states = [(t["task_id"], t["map_index"], t["state"]) for t in self.task_instances(dag_id, run_id)]
        raise TimeoutError(f"{dag_id}/{run_id} not finished after {timeout:.0f} s: {states}")

    def unpause(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            self.wait_dag(dag_id)

    def settle(self, timeout: float = 900) -> None:
        """Wait until no DAG run is queued or running (the runs an unpause or an asset event started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = self.api("GET", "/dags/~/dagRuns", params={"state": ["queued", "running"], "limit": 1})
            if active["total_entries"] == 0:
                return
            self._check_alive()
            time.sleep(2)
        raise TimeoutError(f"DAG runs still active after {timeout:.0f} s")

    def failures(self, dag_id: str, run_id: str) -> str:
        """The error lines of every failed or retried attempt of a run (for assertion messages)."""
        logs = Path(self.env()["AIRFLOW_HOME"]) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        found = []
        for log in sorted(logs.glob("**/attempt=*.log")):
            errors = [
                line for line in log.read_text(errors="replace").splitlines() if '"level":"error"' in line
            ]
            if errors:
                found.append(f"--- {log.relative_to(logs)}\n" + "\n".join(e[:3000] for e in errors[-3:]))
        return "\n".join(found) or "no error in the task logs"

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "start_date"})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run (mapped ones included) with state, hostname, queue, try number."""
        reply = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return reply["task_instances"]

    def pid(self, component: str) -> int | None:
        path = self.home / "run" / f"{component}.pid"
        return int(path.read_text()) if path.exists() else None


def wait_sql(dsn: str, sql: str, *, timeout: float = 120, interval: float = 0.2) -> Any:
    """Poll a query until it returns a truthy first value; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
        if row and row[0]:
            return row[0]
        time.sleep(interval)
    raise TimeoutError(f"no row after {timeout:.0f} s: {sql}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.cluster.topology", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--home", type=Path, default=ROOT / ".local" / "cluster")
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="start from an empty metadata database")
    args = parser.parse_args(argv)
    warehouse = os.environ.get("SMARKETING_WAREHOUSE_DSN", "postgresql://postgres@127.0.0.1:5432/smarketing")
    cluster = Cluster(args.home, port=args.port, workers=args.workers, warehouse_dsn=warehouse)
    if args.action == "up":
        passwords = args.home / "passwords.json"
        if passwords.exists():  # the admin password survives restarts
            cluster.password = json.loads(passwords.read_text())["admin"]
        cluster.prepare(fresh=args.fresh)
        cluster.up()
        print(f"cluster: {cluster.url}  login: admin  password: {cluster.password}  (also in {passwords})")
        print(f"cluster: components {', '.join(cluster.celery_workers())}; logs in {args.home / 'log'}")
        print(
            f"cluster: stop with `python -m tests.cluster.topology down` or CLUSTER_HOME={args.home} scripts/cluster.sh down"
        )
    elif args.action == "down":
        cluster.script("down")
    else:
        print(cluster.script("status"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
