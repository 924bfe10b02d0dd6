"""`smarketing sla ...` (the sla_app group) against a real warehouse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from smarketing.sla.cli import sla_app
from tests.integration.test_sla_seed import paris, seed

pytestmark = pytest.mark.integration


def test_evaluate_replays_a_moment_and_prints_json(clean_warehouse: str) -> None:
    seed(
        clean_warehouse,
        owners=[("crm:1", None, None)],
        leads=[{"lead_id": 1, "owner_id": "crm:1"}],
        stages=[(1, "marketingqualifiedlead", paris("2026-11-23 10:00"))],
        touches=[(1, "call", paris("2026-11-23 16:00"))],
    )
    runner = CliRunner()
    at_noon = runner.invoke(
        sla_app, ["evaluate", "--as-of", "2026-11-23T12:00:00+01:00", "--dsn", clean_warehouse, "--json"]
    )
    assert at_noon.exit_code == 0, at_noon.output
    report = json.loads(at_noon.output)
    assert report["followups"]["status"] == {"pending": 1}
    assert {row["segment"] for row in report["delivery"]} >= {"all"}
    later = runner.invoke(
        sla_app, ["evaluate", "--as-of", "2026-11-24T12:00:00+01:00", "--dsn", clean_warehouse, "--json"]
    )
    assert json.loads(later.output)["followups"]["status"] == {"breached_late": 1}


def test_deadline_and_a_bad_moment() -> None:
    runner = CliRunner()
    due = runner.invoke(sla_app, ["deadline", "2026-11-20T17:30:00+01:00", "4h"])
    assert (due.exit_code, due.output.strip()) == (0, "2026-11-23T12:30:00+01:00")
    as_json = runner.invoke(sla_app, ["deadline", "2026-11-20T17:30:00+01:00", "4h", "--json"])
    assert json.loads(as_json.output)["deadline"] == "2026-11-23T12:30:00+01:00"
    in_new_york = runner.invoke(
        sla_app, ["deadline", "2026-11-20T17:30:00+01:00", "4h", "--timezone", "America/New_York"]
    )
    assert in_new_york.output.strip() == "2026-11-20T15:30:00-05:00"  # on the owner's wall clock
    bad = runner.invoke(sla_app, ["evaluate", "--as-of", "yesterday-ish"])
    assert bad.exit_code != 0 and "--as-of" in bad.output
