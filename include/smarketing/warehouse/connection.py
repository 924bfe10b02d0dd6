"""Finding and opening the warehouse (PostgreSQL, psycopg 3).

Where the warehouse is, in ONE order (`warehouse_dsn`), the first that is defined wins:

1. the Airflow connection `smarketing_warehouse`, resolved by the postgres provider's `PostgresHook`
   exactly as its `get_conn` does (host, login, password, port, schema as the database, and every
   extra except the hook's own flags, e.g. `sslmode`, `sslrootcert`, `options`, `connect_timeout`).
   Airflow finds it in `AIRFLOW_CONN_SMARKETING_WAREHOUSE` (URI or JSON form); inside a task also in its
   metadata database and secrets backends. A connection that is defined but unusable (unparsable,
   not postgres, no host, an extra libpq cannot take) raises `WarehouseMisconfigured` naming it: it
   never falls through to another database;
2. `SMARKETING_WAREHOUSE_DSN` (a libpq URI);
3. outside Airflow tasks only, the local default, `postgresql://postgres@127.0.0.1:5432/smarketing`: a
   task with neither of the above raises `WarehouseMisconfigured` rather than guess a database.

The CLI and the DAG tasks resolve it through this same function. Passwords never reach a message:
use `redact_dsn` whenever a DSN is shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from smarketing.errors import ConfigurationError, SmarketingError

if TYPE_CHECKING:
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk import Connection

CONN_ID = "smarketing_warehouse"
CONN_ENV = "AIRFLOW_CONN_SMARKETING_WAREHOUSE"
DSN_ENV = "SMARKETING_WAREHOUSE_DSN"
DEFAULT_DATABASE = "smarketing"
DEFAULT_DSN = f"postgresql://postgres@127.0.0.1:5432/{DEFAULT_DATABASE}"


class WarehouseUnavailable(SmarketingError):
    """No PostgreSQL server answers at the configured DSN."""


class WarehouseMisconfigured(ConfigurationError):
    """The warehouse connection is defined but cannot be used as given."""

    exit_code = 2


def normalise_dsn(text: str) -> str:
    """A libpq URI from `SMARKETING_WAREHOUSE_DSN`: `postgres://` and SQLAlchemy's
    `postgresql+psycopg://` schemes become `postgresql://`; anything else is returned unchanged."""
    parts = urlsplit(text.strip())
    if parts.scheme in {"postgres", "postgresql+psycopg"}:
        parts = parts._replace(scheme="postgresql")
    return urlunsplit(parts)


def warehouse_dsn(*, in_task: bool = False) -> str:
    """The warehouse DSN, in the module's documented order.

    `in_task`: running inside an Airflow task, where Airflow's whole connection store (metadata
    database, secrets backends) is asked for `smarketing_warehouse`; elsewhere (CLI, tests) only
    `AIRFLOW_CONN_SMARKETING_WAREHOUSE` is, so a command line never needs Airflow's database.
    Returns a libpq URI; raises `WarehouseMisconfigured` for a defined but unusable connection, and in
    a task when nothing is configured.
    """
    if in_task or os.environ.get(CONN_ENV):
        dsn = airflow_connection_dsn()
        if dsn is not None:
            return dsn
    if os.environ.get(DSN_ENV):
        return normalise_dsn(os.environ[DSN_ENV])
    if in_task:
        raise WarehouseMisconfigured(
            f"no warehouse configured for this task: define the Airflow connection '{CONN_ID}' (or "
            f"{DSN_ENV}); a task never assumes the local default"
        )
    return DEFAULT_DSN


def airflow_connection_dsn(conn_id: str = CONN_ID) -> str | None:
    """The Airflow connection `conn_id` as a libpq URI, through `PostgresHook`; None when undefined.

    Airflow's environment backend reports an unparsable `AIRFLOW_CONN_<ID>` as "not defined": with the
    variable set, that is a misconfiguration, not an absence.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    hook = PostgresHook(postgres_conn_id=conn_id)
    env = f"AIRFLOW_CONN_{conn_id.upper()}"
    try:
        connection = hook.connection
    except AirflowNotFoundException:
        if os.environ.get(env):
            raise WarehouseMisconfigured(
                f"Airflow connection '{conn_id}': {env} is set but is not a valid Airflow connection "
                "(a URI such as postgres://user:pass@host:5432/db?sslmode=require, or JSON with conn_type, "
                "host, login, password, port, schema, extra)"
            ) from None
        return None
    except Exception as exc:  # secrets backend or metadata database failure: never guess another database
        raise WarehouseMisconfigured(
            f"Airflow connection '{conn_id}' could not be read: {type(exc).__name__}: {exc}"
        ) from exc
    return connection_dsn(hook, connection)


def connection_dsn(hook: PostgresHook, connection: Connection) -> str:
    """A libpq URI carrying what `hook.get_conn()` would pass to psycopg.connect for `connection`.

    Extras become URI query parameters (libpq takes any connection parameter there); the hook's own
    flags (`cursor`, `sqlalchemy_*`, ...) are left out as it leaves them out.
    """
    name = connection.conn_id
    if connection.conn_type not in (None, "", "postgres"):
        raise WarehouseMisconfigured(
            f"Airflow connection '{name}' has conn_type '{connection.conn_type}', expected 'postgres'"
        )
    if not connection.host:
        raise WarehouseMisconfigured(f"Airflow connection '{name}' has no host")
    extras = connection.extra_dejson
    if extras.get("iam"):
        raise WarehouseMisconfigured(
            f"Airflow connection '{name}': IAM authentication (extra 'iam') is not supported for the warehouse"
        )
    query = {
        key: _extra_value(name, key, value)
        for key, value in extras.items()
        if key not in hook.ignored_extra_options
    }
    user = quote(connection.login or "", safe="")
    password = f":{quote(connection.password, safe='')}" if connection.password else ""
    auth = f"{user}{password}@" if user or password else ""
    host = f"[{connection.host}]" if ":" in connection.host else connection.host
    port = f":{connection.port}" if connection.port else ""
    database = quote(connection.schema or DEFAULT_DATABASE, safe="")
    return urlunsplit(
        ("postgresql", f"{auth}{host}{port}", f"/{database}", urlencode(query, quote_via=quote), "")
    )


def _extra_value(conn_id: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise WarehouseMisconfigured(
        f"Airflow connection '{conn_id}': extra '{key}' must be a string or a number "
        f"(a libpq connection parameter), got {type(value).__name__}"
    )


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
