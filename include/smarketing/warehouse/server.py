"""Make sure a PostgreSQL server answers for the warehouse.

On a machine with a running server this only checks it. On a machine with PostgreSQL binaries but no
running server (a laptop, a CI box), it starts a throwaway cluster under `.local/pg` on the DSN's
port. `initdb` and `postgres` refuse to run as root, so as root the cluster belongs to an
unprivileged system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from smarketing.errors import SmarketingError
from smarketing.paths import LOCAL_DIR
from smarketing.warehouse.connection import redact_dsn, with_database

LOCAL_HOSTS = {"", "127.0.0.1", "localhost", "::1"}
INSTALL_HINT = (
    "Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) "
    "and start it (`pg_ctlcluster <version> main start`, or `brew services start postgresql`), "
    "or point SMARKETING_WAREHOUSE_DSN / AIRFLOW_CONN_SMARKETING_WAREHOUSE at a running server."
)


class ServerUnavailable(SmarketingError):
    """No server answers and none can be started here."""

    exit_code = 3


def server_answers(dsn: str, timeout_s: int = 3) -> bool:
    try:
        with psycopg.connect(with_database(dsn, "postgres"), connect_timeout=timeout_s):
            return True
    except psycopg.OperationalError:
        return False


def find_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl: PATH first, then Debian's versioned layout (newest)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def _unprivileged_user() -> str | None:
    """The account to run the cluster as, or None when the current user may run it."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise ServerUnavailable(
        "running as root and no unprivileged account (postgres, nobody) exists to own a cluster"
    )


def _run(cmd: list[str], user: str | None) -> None:
    full = ["runuser", "-u", user, "--", *cmd] if user else cmd
    done = subprocess.run(full, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServerUnavailable(f"{' '.join(cmd[:1])} failed: {done.stderr.strip() or done.stdout.strip()}")


def start_local_cluster(dsn: str, base_dir: Path = LOCAL_DIR / "pg") -> Path:
    """initdb (once) and start a cluster under base_dir listening on the DSN's port. Returns the data dir."""
    bindir = find_bindir()
    if bindir is None:
        raise ServerUnavailable(
            f"no PostgreSQL server answers at {redact_dsn(dsn)} and no PostgreSQL binaries were found. {INSTALL_HINT}"
        )
    parts = urlsplit(dsn)
    port = parts.port or 5432
    superuser = parts.username or "postgres"
    user = _unprivileged_user()
    data_dir, socket_dir = base_dir / "data", base_dir / "run"
    for directory in (base_dir, socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(directory, user=user)
    if not (data_dir / "PG_VERSION").exists():
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            user,
        )
    options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1"
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(base_dir / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        ],
        user,
    )
    return data_dir


def stop_local_cluster(base_dir: Path = LOCAL_DIR / "pg") -> None:
    bindir = find_bindir()
    data_dir = base_dir / "data"
    if bindir and (data_dir / "postmaster.pid").exists():
        _run([str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], _unprivileged_user())


def ensure_server(dsn: str, base_dir: Path = LOCAL_DIR / "pg") -> str:
    """Return a one-line description of the server used; start a local one if none answers."""
    if server_answers(dsn):
        return f"PostgreSQL answers at {redact_dsn(dsn)}"
    host = urlsplit(dsn).hostname or ""
    if host not in LOCAL_HOSTS:
        raise ServerUnavailable(
            f"no PostgreSQL server answers at {redact_dsn(dsn)} (a remote host: start it there). {INSTALL_HINT}"
        )
    data_dir = start_local_cluster(dsn, base_dir)
    if not server_answers(dsn, timeout_s=10):
        raise ServerUnavailable(
            f"started a cluster in {data_dir} but it does not answer at {redact_dsn(dsn)}; see {base_dir / 'server.log'}"
        )
    return f"started a local PostgreSQL cluster in {data_dir} for {redact_dsn(dsn)}"
