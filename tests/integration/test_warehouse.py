"""The warehouse: migrations, documentation of every column, the read-only KPI role, server bootstrap."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from smarketing.paths import PROJECT_ROOT
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import (
    CONN_ENV,
    DSN_ENV,
    WarehouseMisconfigured,
    WarehouseUnavailable,
    connect,
    database_name,
    drop_database,
    with_database,
)
from smarketing.warehouse.server import (
    ServerUnavailable,
    cluster_dir,
    ensure_server,
    find_bindir,
    server_answers,
    stop_local_cluster,
)

from ..conftest import SERVER_DSN

pytestmark = pytest.mark.integration

SCHEMAS = ["raw", "core", "scoring", "sla", "nurture", "dq", "kpi", "ops"]


def test_migrations_create_every_schema(db: psycopg.Connection) -> None:
    found = {r[0] for r in db.execute("SELECT nspname FROM pg_namespace").fetchall()}
    assert set(SCHEMAS) <= found


def test_every_table_and_column_is_documented(db: psycopg.Connection) -> None:
    undocumented_tables = db.execute(
        """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'alembic_version'
          AND obj_description(c.oid, 'pg_class') IS NULL
        """,
        (SCHEMAS,),
    ).fetchall()
    undocumented_columns = db.execute(
        """
        SELECT n.nspname || '.' || c.relname || '.' || a.attname
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'alembic_version'
          AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
        """,
        (SCHEMAS,),
    ).fetchall()
    assert undocumented_tables == []
    assert undocumented_columns == []


def test_upgrade_is_idempotent_and_safe_concurrently() -> None:
    dsn = with_database(SERVER_DSN, f"smk_mig_{uuid.uuid4().hex[:8]}")
    code = f"from smarketing.warehouse import migrate; migrate.upgrade({dsn!r})"
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        errors = [p.communicate(timeout=180)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        migrate.upgrade(dsn)  # once more: nothing left to do
        assert migrate.current_revision(dsn) == migrate.head_revision()
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM core.event_types").fetchone()[0] > 10
            assert conn.execute("SELECT count(*) FROM ops.alembic_version").fetchone()[0] == len(
                migrate.head_revision().split(",")
            )
    finally:
        drop_database(dsn)


def test_kpi_reader_reads_kpi_and_nothing_else(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kpi.role_probe (n int)")
        conn.execute("COMMENT ON TABLE kpi.role_probe IS 'test probe'")
        conn.execute("COMMENT ON COLUMN kpi.role_probe.n IS 'test probe'")
        try:
            with conn.transaction():
                conn.execute("SET LOCAL ROLE kpi_reader")
                conn.execute("SELECT count(*) FROM kpi.role_probe")
            for table in ("core.leads", "raw.leads", "ops.load_batches"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute("SET LOCAL ROLE kpi_reader")
                    conn.execute(f"SELECT count(*) FROM {table}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SET LOCAL ROLE kpi_reader")
                conn.execute("INSERT INTO kpi.role_probe VALUES (1)")
        finally:
            conn.execute("DROP TABLE kpi.role_probe")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(find_bindir() is None, reason="no PostgreSQL binaries on this machine")
def test_ensure_server_starts_a_throwaway_cluster_when_none_answers() -> None:
    # Where `smarketing db ensure-server` would put a clone's cluster (as root: a directory the unprivileged
    # account can reach even when the clone sits in a private 0700 directory), for a clone of its own.
    base_dir = cluster_dir(PROJECT_ROOT / f"test-clone-{uuid.uuid4().hex[:8]}")
    dsn = f"postgresql://postgres@127.0.0.1:{_free_port()}/smarketing"
    assert not server_answers(dsn, timeout_s=1)
    try:
        message = ensure_server(dsn, base_dir=base_dir)
        assert "started a local PostgreSQL cluster" in message
        assert server_answers(dsn)
        assert "answers" in ensure_server(dsn, base_dir=base_dir)
        migrate.upgrade(dsn)
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM core.activity_types").fetchone()[0] > 0
    finally:
        stop_local_cluster(base_dir)
        shutil.rmtree(base_dir.parent if base_dir.name == "pg" else base_dir, ignore_errors=True)
    assert not server_answers(dsn, timeout_s=1)


@pytest.mark.skipif(
    find_bindir() is None or os.geteuid() != 0, reason="only root hands the cluster to another account"
)
def test_ensure_server_as_root_names_a_cluster_directory_the_cluster_account_cannot_reach() -> None:
    private = Path(tempfile.mkdtemp(prefix="smk-private-"))  # 0700, like /root/... or mktemp -d
    try:
        with pytest.raises(ServerUnavailable, match=r"cannot reach .*chmod o\+x"):
            ensure_server(f"postgresql://postgres@127.0.0.1:{_free_port()}/x", base_dir=private / "pg")
        assert cluster_dir(private).parent == Path("/var/tmp")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_ensure_server_names_what_to_do_for_a_remote_host() -> None:
    with pytest.raises(ServerUnavailable, match="remote host"):
        ensure_server("postgresql://u:secret@192.0.2.1:5432/x?connect_timeout=1")


def _airflow_json(dsn: str, extra: dict) -> str:
    params = conninfo_to_dict(dsn)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": params.get("host", "127.0.0.1"),
            "port": int(params.get("port", 5432)),
            "login": params.get("user"),
            "password": params.get("password"),
            "schema": params["dbname"],
            "extra": extra,
        }
    )


def test_airflow_connection_extras_reach_the_server(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"options": "-c statement_timeout=4321", "application_name": "smk-conn-test", "sslmode": "prefer"}
    monkeypatch.setenv(CONN_ENV, _airflow_json(warehouse_dsn, extra))
    monkeypatch.delenv(DSN_ENV, raising=False)
    with connect() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "4321ms"
        assert conn.execute("SELECT current_setting('application_name')").fetchone()[0] == "smk-conn-test"
        assert conn.info.dbname == database_name(warehouse_dsn)
    # An SSL requirement the client cannot meet is honoured: the connection fails, nothing else is tried.
    strict = {"sslmode": "verify-full", "sslrootcert": "/nonexistent/ca.pem"}
    monkeypatch.setenv(CONN_ENV, _airflow_json(warehouse_dsn, strict))
    monkeypatch.setenv(DSN_ENV, warehouse_dsn)
    with pytest.raises(WarehouseUnavailable, match=r"SSL|certificate"):
        connect().close()


def test_a_broken_airflow_connection_never_reaches_the_fallback(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONN_ENV, "postgres://u@host:notaport/db")
    monkeypatch.setenv(DSN_ENV, warehouse_dsn)
    with pytest.raises(WarehouseMisconfigured, match="smarketing_warehouse"):
        connect().close()
