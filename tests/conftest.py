"""Shared fixtures.

Integration tests run against a real PostgreSQL: `SMARKETING_TEST_DSN` names the server (any
database on it), else the local server on 127.0.0.1:5432. Each test session gets its own fresh,
migrated database (one per xdist worker), dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration once, at first import: point it at the test home (a migrated
# SQLite metadata DB that `make test` prepares) before anything imports airflow.
_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", str(_ROOT / ".local" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(_ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(_ROOT / "plugins"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

import psycopg  # noqa: E402
import pytest  # noqa: E402

from smarketing.paths import PROJECT_ROOT, SHARED_DATA_DIR  # noqa: E402
from smarketing.warehouse import migrate  # noqa: E402
from smarketing.warehouse.connection import drop_database, with_database  # noqa: E402

SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA_DIR}")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def warehouse_dsn() -> Iterator[str]:
    """DSN of a fresh, migrated warehouse database for this test session."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    dsn = with_database(SERVER_DSN, f"smk_test_{worker}_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    yield dsn
    drop_database(dsn)


@pytest.fixture()
def db(warehouse_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection to the session's warehouse (autocommit off; rolled back after the test)."""
    with psycopg.connect(warehouse_dsn) as conn:
        yield conn
        conn.rollback()


@pytest.fixture()
def clean_warehouse(warehouse_dsn: str) -> str:
    """The session warehouse with every data table emptied (vocabularies kept)."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        tables = conn.execute(
            """
            SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
            WHERE schemaname IN ('raw', 'core', 'scoring', 'sla', 'nurture', 'dq', 'kpi', 'ops')
              AND tablename NOT IN ('event_types', 'activity_types', 'alembic_version')
            """
        ).fetchall()
        if tables:
            conn.execute("TRUNCATE " + ", ".join(t for (t,) in tables) + " RESTART IDENTITY CASCADE")
    return warehouse_dsn
