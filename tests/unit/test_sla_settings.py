"""The SLA's reading of the agreement, and where alerts are routed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, time
from pathlib import Path

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


def test_alert_list_cap_from_the_agreement_and_its_bounds(tmp_path: Path) -> None:
    from smarketing.config import check_config

    source = (Path(__file__).parents[2] / "config" / "smarketing.yaml").read_text()
    line = next(x for x in source.splitlines(keepends=True) if x.strip().startswith("max_listed:"))
    good = tmp_path / "good.yaml"
    good.write_text(
        source.replace(line, "    max_listed: 20\n    full_list_url: https://bi.example/a/{alert_id}\n")
    )
    alerts = settings_from_agreement(load_config(good)).alerts
    assert (alerts.max_listed, alerts.full_list_url) == (20, "https://bi.example/a/{alert_id}")
    assert settings_from_agreement(load_config()).alerts.max_listed == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace(line, "    max_listed: 0\n"))
    assert any("sla.alerts.max_listed" in problem for problem in check_config(bad))
