from __future__ import annotations

import json

import pytest

from smarketing.warehouse.connection import DEFAULT_DSN, normalise_dsn, redact_dsn, warehouse_dsn


def test_redact_hides_the_password_only() -> None:
    assert redact_dsn("postgresql://bob:s3cret@db:5432/w") == "postgresql://bob:***@db:5432/w"
    assert redact_dsn("postgresql://bob@db/w") == "postgresql://bob@db/w"


def test_airflow_uri_and_json_forms_are_accepted() -> None:
    assert normalise_dsn("postgres://u:p@h:5433/w?__extra__=%7B%7D") == "postgresql://u:p@h:5433/w"
    as_json = json.dumps(
        {"conn_type": "postgres", "host": "h", "login": "u", "password": "p@ss", "port": 5433, "schema": "w"}
    )
    assert normalise_dsn(as_json) == "postgresql://u:p%40ss@h:5433/w"


def test_dsn_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMARKETING_WAREHOUSE", raising=False)
    monkeypatch.delenv("SMARKETING_WAREHOUSE_DSN", raising=False)
    assert warehouse_dsn() == DEFAULT_DSN
    monkeypatch.setenv("SMARKETING_WAREHOUSE_DSN", "postgresql://a@b/c")
    assert warehouse_dsn() == "postgresql://a@b/c"
    monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_WAREHOUSE", "postgres://x@y/z")
    assert warehouse_dsn() == "postgresql://x@y/z"
