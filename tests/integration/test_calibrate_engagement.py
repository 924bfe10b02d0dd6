"""`smarketing calibrate --from-warehouse` calibrates engagement too: a planted effect of an event type is
recovered with the right sign and a sensible half-life; an event done only after the outcome is never
counted (the cut-off), however well it would 'predict' the outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from smarketing.scoring.calibrate.warehouse import outcome_history
from smarketing.scoring.candidates import load_candidate
from tests.integration.calibration_world import plant_outcomes

pytestmark = pytest.mark.integration


def _run(*args: str):
    import typer

    from smarketing.scoring.cli import calibrate_command

    app = typer.Typer()
    app.command()(calibrate_command)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_engagement_is_calibrated_as_of_each_cutoff(clean_warehouse: str, tmp_path: Path) -> None:
    planted = plant_outcomes(clean_warehouse)
    history = outcome_history(clean_warehouse)
    assert len(history.leads) == len(planted["won"])
    assert history.leads["won"].sum() == planted["won"].sum()
    # Nothing at or after a lead's cut-off is read, and the post-outcome unsubscribes are all gone.
    cutoff = history.leads.set_index("lead_id")["cutoff_us"]
    assert (history.events["t_us"].to_numpy() < cutoff.reindex(history.events["lead_id"]).to_numpy()).all()
    assert "unsubscribe" not in set(history.events["event_type"])

    result = _run("--from-warehouse", "--dsn", clean_warehouse, "--out-dir", str(tmp_path), "--seed", "5")
    assert result.exit_code == 0, result.output
    section = yaml.safe_load((tmp_path / "scoring.yaml").read_text())["scoring"]
    events = section["engagement"]["events"]
    # The planted effect: a webinar is worth clearly positive points; the post-outcome event none.
    assert events["webinar_attended"]["points"] > 0
    assert "unsubscribe" not in events
    report_all = yaml.safe_load((tmp_path / "report.json").read_text())
    report = report_all["engagement"]
    rows = {r["event_type"]: r for r in report["event_types"]}
    assert rows["webinar_attended"]["points_exact"] > 3 * abs(rows["email_open"]["points_exact"])
    assert report["half_life_days"] is None or report["half_life_days"] >= 30
    assert report["auc_fit_and_engagement"] > report["auc_fit_only"] + 0.05
    assert "## Engagement" in (tmp_path / "report.md").read_text()
    # The proposal carries an MQL threshold on its own scale, at which it hands over as many of the
    # warehouse's leads as the active agreement does at the latest event. Here that is none (the planted
    # webinars have faded by then): the threshold is above every proposal score.
    mql = report_all["mql"]
    assert mql["active_mqls"] == 0 and mql["proposal_mqls"] == 0
    written = yaml.safe_load((tmp_path / "scoring.yaml").read_text())["vocabulary"]["mql"]
    assert written["min_score"] == mql["min_score"] != mql["active_min_score"]
    # The hot SLA tier's score likewise (no MQL reaches it in effect: none does on the proposal's scale).
    (hot,) = mql["sla_tiers"]
    assert (hot["id"], hot["active_min_score"], hot["active_leads"], hot["proposal_leads"]) == (
        "hot",
        90,
        0,
        0,
    )
    tiers = yaml.safe_load((tmp_path / "scoring.yaml").read_text())["sla"]["sales"]["tiers"]
    assert tiers == [{"id": "hot", "when": {"min_score": hot["min_score"]}}]
    # The proposal is a valid scoring section the engine runs as is.
    model = load_candidate(tmp_path / "scoring.yaml")
    assert {model.predicates[r.predicate].event_type for r in model.profiles[0].engagement.rules} == set(
        events
    )
