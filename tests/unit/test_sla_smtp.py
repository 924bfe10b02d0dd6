"""The SMTP probe of the SLA DAG: only a connection nobody defined may skip the alerts (issue 10.7)."""

from __future__ import annotations

import json

import pytest

from smarketing.sla.smtp import SmtpConnectionBroken, smtp_connection_defined


def test_a_connection_nobody_defined_is_reported_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_NOWHERE", raising=False)
    assert smtp_connection_defined("smtp_nowhere") is False


def test_a_usable_connection_is_reported_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_FINE", json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": 25})
    )
    assert smtp_connection_defined("smtp_fine") is True


@pytest.mark.parametrize(
    ("value", "problem"),
    [("{not json", "cannot read it"), (json.dumps({"conn_type": "smtp", "port": 25}), "has no host")],
    ids=["unreadable", "no-host"],
)
def test_a_defined_but_unusable_connection_is_an_error(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_BROKEN", value)
    with pytest.raises(SmtpConnectionBroken, match=problem):
        smtp_connection_defined("smtp_broken")
