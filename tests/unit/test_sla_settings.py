"""The SLA's reading of the agreement, and where alerts are routed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, time

import pytest

from smarketing.config import load_config
from smarketing.sla.alerts import redact, with_overrides
from smarketing.sla.settings import AlertSettings, settings_from_agreement


def test_the_sample_agreement() -> None:
    settings = settings_from_agreement(load_config())
    assert settings.calendar.timezone == "Europe/Paris"
    assert settings.calendar.days == (0, 1, 2, 3, 4)
    assert (settings.calendar.start, settings.calendar.end) == (time(9), time(18))
    assert settings.calendar.holiday_country == "FR"
    assert date(2026, 12, 24) in settings.calendar.closed_days
    assert [(t.id, t.within_minutes, t.min_score) for t in settings.tiers] == [
        ("hot", 60, 90),
        ("standard", 240, None),
    ]
    assert settings.accept_within_minutes == 18 * 60 and settings.escalate_after_minutes == 120
    assert settings.reject_stages == ("nurturing", "disqualified")
    assert settings.targets == {"all": 400, "persona:it_leader": 120, "country:FR": 150}
    assert settings.alerts.smtp_conn_id == "smtp_default"
    assert settings.alerts.team_to and settings.alerts.marketing_to


def test_owner_routing() -> None:
    alerts = AlertSettings(team_to="team@x.example", recipients={"crm:1": "one@x.example"})
    assert alerts.for_owner("crm:1") == ("one@x.example", "owner")
    assert alerts.for_owner("crm:2") == ("team@x.example", "team")
    assert alerts.for_owner(None) == ("team@x.example", "team")
    assert AlertSettings().for_owner("crm:1") is None
    assert not AlertSettings().configured


def test_variable_overrides_the_agreement(monkeypatch: pytest.MonkeyPatch) -> None:
    base = AlertSettings(team_to="team@x.example", recipients={"crm:1": "one@x.example"})
    monkeypatch.setenv(
        "SMARKETING_SLA_ALERTS",
        json.dumps({"recipients": {"crm:2": "two@x.example"}, "marketing": "mkt@x.example"}),
    )
    merged = with_overrides(base)
    assert merged == replace(
        base, marketing_to="mkt@x.example", recipients={"crm:1": "one@x.example", "crm:2": "two@x.example"}
    )


def test_redact_hides_addresses() -> None:
    assert redact("(550, b'5.1.1 <bob.smith+x@mail.northwind.example>: unknown')") == (
        "(550, b'5.1.1 <<address>>: unknown')"
    )
