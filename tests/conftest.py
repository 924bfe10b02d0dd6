"""Shared fixtures.

Integration tests run against a real PostgreSQL: `SMARKETING_TEST_DSN` names the server (any
database on it), else the local server on 127.0.0.1:5432. Each test session gets its own fresh,
migrated database (one per xdist worker), dropped at the end.

Under `CI=true` a skipped test fails the run (see `pytest_runtest_makereport` below): a missing
checkout of the shared data, a missing Airflow metadata DB or an import error behind `importorskip`
must not let the suite pass without running what it skips.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

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

# The pytester fixture: tests/unit/test_skip_policy.py runs small suites under the policy below.
# tests.xdist_groups: `xdist_group` marks keep their group on one worker under `--dist loadgroup`.
pytest_plugins = ("pytester", "tests.xdist_groups")


# -- skips under CI --------------------------------------------------------------------------------
def skips_fail() -> bool:
    """Whether a skip is a failure: under CI (the `CI` variable every CI service sets to true)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _fail_skip(report: Any) -> None:
    """Turn a skipped test or collection report into a failed one that names the reason."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Every skip of a test (skip marks, pytest.skip in a fixture or test, importorskip) fails in CI.

    An expected failure (xfail) also reports as skipped: it is left alone.
    """
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and skips_fail():
        _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """A module skipped whole (`pytest.skip(allow_module_level=True)`, importorskip at import) fails in CI."""
    report = yield
    if report.skipped and skips_fail():
        _fail_skip(report)
    return report


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


def empty_warehouse(dsn: str) -> None:
    """Empty every data table of a warehouse (vocabularies kept)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            """
            SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
            WHERE schemaname IN ('raw', 'core', 'scoring', 'sla', 'nurture', 'dq', 'kpi', 'ops')
              AND tablename NOT IN ('event_types', 'activity_types', 'alembic_version')
            """
        ).fetchall()
        if tables:
            conn.execute("TRUNCATE " + ", ".join(t for (t,) in tables) + " RESTART IDENTITY CASCADE")


@pytest.fixture()
def clean_warehouse(warehouse_dsn: str) -> str:
    """The session warehouse with every data table emptied (vocabularies kept)."""
    empty_warehouse(warehouse_dsn)
    return warehouse_dsn


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture()
def summary_lines() -> Iterator[list[str]]:
    """The tasks' summary lines, read on their own logger (Airflow's task logging replaces root handlers)."""
    from smarketing.tasklog import SUMMARY_LOGGER

    lines: list[str] = []
    handler = _Lines(lines)
    logger = logging.getLogger(SUMMARY_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)  # outside a task, the root logger's level would drop them
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)
