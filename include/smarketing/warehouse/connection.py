"""Finding and opening the warehouse (PostgreSQL, psycopg 3).

The DSN comes, in this order, from the Airflow connection `smarketing_warehouse` (the
`AIRFLOW_CONN_SMARKETING_WAREHOUSE` variable, or the metadata database when running inside a task),
from `SMARKETING_WAREHOUSE_DSN`, or defaults to the local server. Passwords never reach a message:
use `redact_dsn` whenever a DSN is shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from smarketing.errors import SmarketingError

CONN_ID = "smarketing_warehouse"
CONN_ENV = "AIRFLOW_CONN_SMARKETING_WAREHOUSE"
DSN_ENV = "SMARKETING_WAREHOUSE_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/smarketing"


class WarehouseUnavailable(SmarketingError):
    """No PostgreSQL server answers at the configured DSN."""


def _dsn_from_airflow_json(text: str) -> str:
    fields = json.loads(text)
    user = quote(fields.get("login") or "", safe="")
    password = fields.get("password")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = fields.get("host") or "127.0.0.1"
    port = f":{fields['port']}" if fields.get("port") else ""
    database = fields.get("schema") or "smarketing"
    return f"postgresql://{auth}{host}{port}/{database}"


def normalise_dsn(text: str) -> str:
    """Accept an Airflow connection (URI or JSON form) or a libpq URI and return a libpq URI."""
    text = text.strip()
    if text.startswith("{"):
        return _dsn_from_airflow_json(text)
    parts = urlsplit(text)
    scheme = (
        "postgresql" if parts.scheme in {"postgres", "postgresql", "postgresql+psycopg"} else parts.scheme
    )
    # Airflow URIs may carry `__extra__` in the query string; libpq rejects unknown parameters.
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("__extra__"))
    return urlunsplit((scheme, parts.netloc, parts.path, query, parts.fragment))


def _dsn_from_airflow_metadata() -> str | None:
    try:
        from airflow.sdk import Connection

        return Connection.get(CONN_ID).get_uri()
    except Exception:
        return None


def warehouse_dsn(*, in_task: bool = False) -> str:
    """The warehouse DSN. `in_task=True` also asks Airflow's connection store (metadata DB, secrets)."""
    if os.environ.get(CONN_ENV):
        return normalise_dsn(os.environ[CONN_ENV])
    if in_task and (uri := _dsn_from_airflow_metadata()):
        return normalise_dsn(uri)
    if os.environ.get(DSN_ENV):
        return normalise_dsn(os.environ[DSN_ENV])
    return DEFAULT_DSN


def redact_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def connect(dsn: str | None = None, **kwargs: object) -> psycopg.Connection:
    dsn = dsn or warehouse_dsn()
    try:
        return psycopg.connect(dsn, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(f"cannot connect to the warehouse at {redact_dsn(dsn)}: {exc}") from exc


@contextmanager
def transaction(dsn: str | None = None) -> Iterator[psycopg.Connection]:
    """One connection, one transaction: committed on success, rolled back on any error."""
    with connect(dsn) as conn, conn.transaction():
        yield conn


def ensure_database(dsn: str) -> bool:
    """Create the DSN's database if it does not exist. Returns True when it was created."""
    name = database_name(dsn)
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            return False  # another process created it first
        return True


def drop_database(dsn: str) -> None:
    name = database_name(dsn)
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
