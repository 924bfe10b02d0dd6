"""Where the warehouse is: one order, the Airflow connection read by PostgresHook with its extras, and a
defined-but-broken connection failing loudly instead of falling back to another database."""

from __future__ import annotations

import json

import pytest
from psycopg.conninfo import conninfo_to_dict

from smarketing.warehouse.connection import (
    CONN_ENV,
    DEFAULT_DSN,
    DSN_ENV,
    WarehouseMisconfigured,
    normalise_dsn,
    redact_dsn,
    warehouse_dsn,
)


@pytest.fixture(autouse=True)
def no_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONN_ENV, raising=False)
    monkeypatch.delenv(DSN_ENV, raising=False)


def test_redact_hides_the_password_only() -> None:
    assert redact_dsn("postgresql://bob:s3cret@db:5432/w") == "postgresql://bob:***@db:5432/w"
    assert redact_dsn("postgresql://bob@db/w") == "postgresql://bob@db/w"


def test_dsn_variable_schemes_become_libpq_uris() -> None:
    assert (
        normalise_dsn("postgres://u:p@h:5433/w?sslmode=require")
        == "postgresql://u:p@h:5433/w?sslmode=require"
    )
    assert normalise_dsn("postgresql+psycopg://u@h/w") == "postgresql://u@h/w"


def test_dsn_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert warehouse_dsn() == DEFAULT_DSN
    # A task with nothing configured refuses to guess (a production worker must not write to localhost).
    with pytest.raises(WarehouseMisconfigured, match="smarketing_warehouse"):
        warehouse_dsn(in_task=True)
    monkeypatch.setenv(DSN_ENV, "postgresql://a@b/c")
    assert warehouse_dsn() == "postgresql://a@b/c"
    assert warehouse_dsn(in_task=True) == "postgresql://a@b/c"
    monkeypatch.setenv(CONN_ENV, "postgres://x@y/z")
    assert warehouse_dsn() == "postgresql://x@y/z"
    assert warehouse_dsn(in_task=True) == "postgresql://x@y/z"


def test_json_connection_keeps_its_extras_as_connect_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {
        "conn_type": "postgres",
        "host": "db.example",
        "login": "etl",
        "password": "p@ss:w/rd",
        "port": 6432,
        "schema": "warehouse",
        "extra": {
            "sslmode": "verify-full",
            "sslrootcert": "/etc/ssl/ca.pem",
            "options": "-c search_path=core,public -c statement_timeout=5000",
            "connect_timeout": 7,
            "cursor": "dictcursor",  # the hook's own flag, not a libpq parameter
        },
    }
    monkeypatch.setenv(CONN_ENV, json.dumps(connection))
    monkeypatch.setenv(DSN_ENV, "postgresql://never@used/here")
    params = conninfo_to_dict(warehouse_dsn())
    assert params == {
        "host": "db.example",
        "port": "6432",
        "user": "etl",
        "password": "p@ss:w/rd",
        "dbname": "warehouse",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/ca.pem",
        "options": "-c search_path=core,public -c statement_timeout=5000",
        "connect_timeout": "7",
    }
    assert "p@ss" not in redact_dsn(warehouse_dsn())


def test_uri_connection_keeps_its_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, "postgres://u:p@h:5432/w?sslmode=require&options=-c%20search_path%3Dx")
    params = conninfo_to_dict(warehouse_dsn())
    assert params["sslmode"] == "require"
    assert params["options"] == "-c search_path=x"
    assert params["dbname"] == "w"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("{not json", "not a valid Airflow connection"),
        (json.dumps({"conn_type": "http", "host": "h"}), "conn_type 'http'"),
        (json.dumps({"conn_type": "postgres", "login": "u"}), "has no host"),
        (json.dumps({"conn_type": "postgres", "host": "h", "extra": {"options": ["a"]}}), "extra 'options'"),
    ],
)
def test_a_broken_connection_fails_naming_it_and_never_falls_back(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv(CONN_ENV, value)
    monkeypatch.setenv(DSN_ENV, "postgresql://fallback@127.0.0.1/smarketing")
    with pytest.raises(WarehouseMisconfigured, match="smarketing_warehouse") as raised:
        warehouse_dsn()
    assert complaint in str(raised.value)
    with pytest.raises(WarehouseMisconfigured):
        warehouse_dsn(in_task=True)
