"""Calibration: cleaning, integer points that lose (almost) nothing, files the project can run; on
synthetic data with a known answer and on the real exports in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from smarketing.scoring.calibrate import (
    CalibrationError,
    calibrate,
    clean_text,
    design,
    merge_variants,
    parse_numbers,
    parse_outcome,
    write_outputs,
)
from smarketing.scoring.candidates import load_candidate
from smarketing.scoring.scorefile import score_file


def test_placeholders_become_missing_and_numbers_are_parsed() -> None:
    text = clean_text(pd.Series(["Select", " n/a ", "Unknown", "-", "", "Paris", None]))
    assert text.isna().tolist() == [True, True, True, True, True, False, True]
    numbers = parse_numbers(pd.Series(["1 200", "3,5", "1,200", "$40", "Select", "7"]))
    np.testing.assert_allclose(numbers, [1200, 3.5, 1200, 40, np.nan, 7])
    outcome = parse_outcome(pd.Series(["Won", "lost", "Engaging", "1", "0", "yes", None]))
    assert (
        outcome.tolist()[:2] == [1.0, 0.0]
        and np.isnan(outcome[2])
        and outcome.tolist()[3:6] == [1.0, 0.0, 1.0]
    )


def test_case_spacing_and_typo_variants_are_one_value() -> None:
    groups = merge_variants(
        pd.Series(
            ["technology"] * 30 + ["Technology"] * 5 + ["technolgy"] * 3 + ["GTX Pro"] * 8 + ["GTXPro"] * 9
        )
    )
    assert sorted(map(sorted, groups.values())) == [
        ["GTX Pro", "GTXPro"],
        ["Technology", "technolgy", "technology"],
    ]
    # Codes that differ by a digit are different values.
    assert len(merge_variants(pd.Series(["plan 100"] * 5 + ["plan 200"] * 5))) == 2


def synthetic(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    source = rng.choice(["Google", "google ", "Referral", "Select", "Events", "Partner"], size=n)
    employees = rng.lognormal(4, 1.2, size=n).round()
    employees[rng.random(n) < 0.1] = np.nan
    noise = rng.choice(list("abcdefgh"), size=n)
    logit = (
        -2.0
        + np.select(
            [np.isin(source, ["Google", "google "]), source == "Referral", source == "Events"],
            [0.9, 1.6, -0.8],
            0,
        )
        + np.where(employees > 200, 1.0, 0.0)
        - np.where(np.isnan(employees), 0.7, 0.0)
    )
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "lead_ref": [f"L{i}" for i in range(n)],
            "email": [f"person{i}@example.com" for i in range(n)],
            "lead_source": source,
            "employees": pd.Series(employees).map(lambda v: "" if np.isnan(v) else f"{v:.0f}"),
            "noise": noise,
            "converted": np.where(won, "Yes", "No"),
        }
    )


def test_synthetic_points_recover_the_signal_and_lose_nothing_by_rounding(tmp_path: Path) -> None:
    frame = synthetic()
    result = calibrate(frame, id_column="lead_ref", outcome="converted", seed=5)
    report = result.report
    assert report["unrounded_model"]["auc"] - report["integer_points"]["auc"] <= 0.01
    assert report["integer_points"]["auc"] > 0.7
    assert "email" in report["skipped_columns"]  # every value distinct: an identifier, not a signal
    levels = {(f["column"], lv["level"]): lv["points"] for f in report["features"] for lv in f["levels"]}
    assert (
        levels[("lead_source", "Referral")]
        > levels[("lead_source", "Google")]
        > levels[("lead_source", "Events")]
    )
    google = next(lv for f in report["features"] for lv in f["levels"] if lv["level"] == "Google")
    assert sorted(google["spellings"]) == ["Google", "google"]
    deciles = report["integer_points"]["deciles"]
    assert deciles[0]["lift"] > 1.5 > deciles[-1]["lift"]

    files = write_outputs(result, tmp_path / "out", source="synthetic.csv", version="synthetic-1")
    assert (
        json.loads(Path(files["report.json"]).read_text())["integer_points"]["auc"]
        == report["integer_points"]["auc"]
    )
    assert "| integer points" in Path(files["report.md"]).read_text()
    # The scoring section runs as is: the engine gives every lead exactly the calibrated integer points.
    model = load_candidate(Path(files["scoring.yaml"]))
    assert model.version == "synthetic-1"
    source = tmp_path / "leads.csv"
    frame.drop(columns=["converted"]).to_csv(source, index=False)
    score_file(model, source, id_column="lead_ref", out_path=tmp_path / "scored.csv")
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert list(scored.columns) == ["lead_ref", "fit", "engagement", "score", "grade", "mql", "reasons"]
    assert "@" not in scored.to_csv()
    x, index = design(result.features, frame)
    np.testing.assert_array_equal(scored["fit"].to_numpy(), x @ np.array([result.points[k] for k in index]))


def test_a_column_that_is_the_outcome_in_disguise_is_left_out() -> None:
    frame = synthetic(2000)
    frame["close_value"] = np.where(frame["converted"] == "Yes", "1000", "0")
    result = calibrate(frame, id_column="lead_ref", outcome="converted")
    assert "leak" in result.report["skipped_columns"]["close_value"]


def test_one_class_only_is_an_error() -> None:
    frame = synthetic(500).assign(converted="No")
    with pytest.raises(CalibrationError, match="single value"):
        calibrate(frame, id_column="lead_ref", outcome="converted")


# -- the real exports ----------------------------------------------------------------------------------
def maven_export(shared_data: Path, out: Path) -> Path:
    """Opportunities with their account, product and sales-team attributes, as a CRM would export them."""
    base = shared_data / "maven_crm"
    frame = (
        pd.read_csv(base / "sales_pipeline.csv")
        .merge(pd.read_csv(base / "accounts.csv"), on="account", how="left")
        .merge(pd.read_csv(base / "products.csv"), on="product", how="left")
        .merge(pd.read_csv(base / "sales_teams.csv"), on="sales_agent", how="left")
    )
    frame.to_csv(out, index=False)
    return out


def olist_export(shared_data: Path, out: Path) -> Path:
    mqls = pd.read_csv(shared_data / "olist" / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(shared_data / "olist" / "olist_closed_deals_dataset.csv")
    mqls["won"] = mqls["mql_id"].isin(deals["mql_id"]).astype(int)
    mqls.to_csv(out, index=False)
    return out


def run_cli(*args: str):
    import typer

    from smarketing.scoring.cli import calibrate_command

    app = typer.Typer()
    app.command()(calibrate_command)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("name", "builder", "id_column", "outcome", "exclude"),
    [
        ("maven", maven_export, "opportunity_id", "deal_stage", ["engage_date", "close_date", "close_value"]),
        ("olist", olist_export, "mql_id", "won", ["first_contact_date"]),
    ],
)
def test_calibration_on_real_exports(
    shared_data: Path, tmp_path: Path, name, builder, id_column, outcome, exclude, capsys
) -> None:
    source = builder(shared_data, tmp_path / f"{name}.csv")
    args = ["--input", str(source), "--id-column", id_column, "--outcome", outcome, "--seed", "3"]
    args += [a for column in exclude for a in ("--exclude", column)]
    result = run_cli(*args, "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    with capsys.disabled():
        print(
            f"\n{name}: held-out AUC integer {report['integer_points']['auc']} vs unrounded "
            f"{report['unrounded_model']['auc']} on {report['holdout_rows']} leads"
        )
    assert report["unrounded_model"]["auc"] - report["integer_points"]["auc"] <= 0.01
    assert report["integer_points"]["auc"] > 0.5
    section = yaml.safe_load((tmp_path / "out" / "scoring.yaml").read_text())["scoring"]
    assert section["fit"] and all(isinstance(rule["points"], int) for rule in section["fit"])
    model = load_candidate(tmp_path / "out" / "scoring.yaml")
    assert model.profiles[0].fit_rules
    if name == "maven":
        # Only won and lost opportunities have an outcome; open ones are left out.
        assert report["rows_with_outcome"] == 6711
        assert "close_value" not in {f["column"] for f in report["features"]}
