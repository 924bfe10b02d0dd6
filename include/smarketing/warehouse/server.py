"""Make sure a PostgreSQL server answers for the warehouse.

On a machine with a running server this only checks it. On a machine with PostgreSQL binaries but no
running server (a laptop, a CI box), it starts a throwaway cluster on the DSN's port, in `cluster_dir()`:

* as an ordinary user, under the clone's `.local/pg`;
* as root, `initdb` and `postgres` refuse to run, so the cluster belongs to an unprivileged account
  (`postgres`, else `nobody`), which cannot enter a clone under a private directory (`/root/...`,
  `mktemp -d`): the cluster then lives in `/var/tmp/smarketing-pg-<hash of the clone's path>`, a 0700
  directory owned by that account (one per clone, kept across reboots; `make clean` does not remove it).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from smarketing.errors import SmarketingError
from smarketing.paths import LOCAL_DIR, PROJECT_ROOT
from smarketing.warehouse.connection import redact_dsn, with_database

LOCAL_HOSTS = {"", "127.0.0.1", "localhost", "::1"}
SHARED_CLUSTER_ROOT = Path("/var/tmp")
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
    # From "/": the unprivileged account may not be able to enter the current directory (a private clone).
    done = subprocess.run(full, capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        raise ServerUnavailable(f"{' '.join(cmd[:1])} failed: {done.stderr.strip() or done.stdout.strip()}")


def cluster_dir(clone: Path = PROJECT_ROOT) -> Path:
    """Where `clone`'s throwaway cluster lives: its `.local/pg`, or as root a per-clone directory under
    /var/tmp that the unprivileged account running the cluster can reach (see the module docstring)."""
    if _unprivileged_user() is None:
        return LOCAL_DIR / "pg" if clone == PROJECT_ROOT else clone / ".local" / "pg"
    digest = hashlib.sha256(str(clone.resolve()).encode()).hexdigest()[:16]
    return SHARED_CLUSTER_ROOT / f"smarketing-pg-{digest}"


def _prepare(base_dir: Path, user: str | None) -> None:
    """Create `base_dir` (and its socket directory) for `user`; refuse one it cannot use."""
    if user is None:
        (base_dir / "run").mkdir(parents=True, exist_ok=True)
        return
    base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = pwd.getpwnam(user)
    info = base_dir.lstat()
    if base_dir.is_symlink() or info.st_uid not in (owner.pw_uid, 0):
        raise ServerUnavailable(
            f"{base_dir} belongs to another account (uid {info.st_uid}): remove it, or point "
            "SMARKETING_WAREHOUSE_DSN at a running server"
        )
    for directory in (base_dir, base_dir / "run"):
        directory.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(directory, user=user)
    reach = subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(base_dir)], check=False)
    if reach.returncode != 0:
        raise ServerUnavailable(
            f"the '{user}' account that runs the throwaway cluster cannot reach {base_dir} (a parent directory "
            f"is private, e.g. 0700): use the default location ({cluster_dir()}) or make every parent "
            "directory traversable (chmod o+x)"
        )


def start_local_cluster(dsn: str, base_dir: Path | None = None) -> Path:
    """initdb (once) and start a cluster in `base_dir` (default `cluster_dir()`) listening on the DSN's
    port. Returns the data directory."""
    base_dir = base_dir or cluster_dir()
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
    _prepare(base_dir, user)
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


def stop_local_cluster(base_dir: Path | None = None) -> None:
    """Stop the cluster in `base_dir` (default `cluster_dir()`) if it runs."""
    base_dir = base_dir or cluster_dir()
    bindir = find_bindir()
    data_dir = base_dir / "data"
    if bindir and (data_dir / "postmaster.pid").exists():
        _run([str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], _unprivileged_user())


def ensure_server(dsn: str, base_dir: Path | None = None) -> str:
    """Return a one-line description of the server used; start a local one in `base_dir` (default
    `cluster_dir()`) if none answers at `dsn`."""
    base_dir = base_dir or cluster_dir()
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
