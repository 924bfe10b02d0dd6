"""`smarketing calibrate --from-warehouse` calibrates engagement too: a planted effect of an event type is
recovered with the right sign and a sensible half-life; an event done only after the outcome is never
counted (the cut-off), however well it would 'predict' the outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from smarketing.scoring.calibrate.warehouse import outcome_history
from smarketing.scoring.candidates import load_candidate

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, tzinfo=UTC)


def _plant(dsn: str, n: int = 1500, seed: int = 11) -> dict[str, np.ndarray]:
    """Leads with one closed deal each. Persona and webinars (before the deal) raise the odds of a win;
    lost leads unsubscribe after the deal closed (a perfect 'predictor' that only exists afterwards)."""
    rng = np.random.default_rng(seed)
    persona = rng.choice(["it_leader", "developer", "student"], size=n, p=[0.3, 0.5, 0.2])
    webinars = rng.poisson(np.where(rng.random(n) < 0.4, 2.0, 0.0))
    opened = [START + timedelta(days=int(d)) for d in rng.integers(60, 200, size=n)]
    logit = (
        -1.2 + np.select([persona == "it_leader", persona == "student"], [1.0, -1.0], 0.0) + 0.9 * webinars
    )
    won = rng.random(n) < 1 / (1 + np.exp(-np.minimum(logit, 3)))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY core.leads (lead_id, source_system, source_id, persona_id, country) FROM STDIN"
        ) as cp:
            for i in range(n):
                cp.write_row((i + 1, "test", f"L{i}", persona[i], rng.choice(["FR", "DE"])))
        with cur.copy(
            "COPY core.deals (deal_id, lead_id, created_at, closed_at, is_won, source_system) FROM STDIN"
        ) as cp:
            for i in range(n):
                cp.write_row(
                    (f"d{i}", i + 1, opened[i], opened[i] + timedelta(days=30), bool(won[i]), "test")
                )
        with cur.copy(
            "COPY core.marketing_events (event_id, lead_id, event_type, occurred_at, source_system) FROM STDIN"
        ) as cp:
            k = 0
            for i in range(n):
                # Webinars in the 60 days before the deal opened; e-mail opens as noise, before and after.
                for _ in range(webinars[i]):
                    k += 1
                    cp.write_row(
                        (
                            f"e{k}",
                            i + 1,
                            "webinar_attended",
                            opened[i] - timedelta(days=int(rng.integers(1, 60))),
                            "test",
                        )
                    )
                for _ in range(int(rng.integers(0, 4))):
                    k += 1
                    cp.write_row(
                        (
                            f"e{k}",
                            i + 1,
                            "email_open",
                            opened[i] + timedelta(days=int(rng.integers(-90, 40))),
                            "test",
                        )
                    )
                if not won[i] or rng.random() < 0.03:
                    k += 1
                    cp.write_row((f"e{k}", i + 1, "unsubscribe", opened[i] + timedelta(days=35), "test"))
        conn.commit()
    return {"won": won, "persona": persona}


def _run(*args: str):
    import typer

    from smarketing.scoring.cli import calibrate_command

    app = typer.Typer()
    app.command()(calibrate_command)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_engagement_is_calibrated_as_of_each_cutoff(clean_warehouse: str, tmp_path: Path) -> None:
    planted = _plant(clean_warehouse)
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
    report = yaml.safe_load((tmp_path / "report.json").read_text())["engagement"]
    rows = {r["event_type"]: r for r in report["event_types"]}
    assert rows["webinar_attended"]["points_exact"] > 3 * abs(rows["email_open"]["points_exact"])
    assert report["half_life_days"] is None or report["half_life_days"] >= 30
    assert report["auc_fit_and_engagement"] > report["auc_fit_only"] + 0.05
    assert "## Engagement" in (tmp_path / "report.md").read_text()
    # The proposal is a valid scoring section the engine runs as is.
    model = load_candidate(tmp_path / "scoring.yaml")
    assert {model.predicates[r.predicate].event_type for r in model.profiles[0].engagement.rules} == set(
        events
    )
