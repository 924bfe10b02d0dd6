"""Calibration accuracy and cost, each next to its reference in the same run. Prints one JSON object.

    .venv/bin/python bench/calibrate.py [--timing-rows 100000 --timing-columns 40] [--seed 7]

* `accuracy`: on real outcome-labelled data in ../shared/data — the UCI online-shoppers sessions
  (12,330, rows numbered for an id) and Olist's MQLs (won = a closed deal) — `smarketing calibrate`
  with a fixed stratified 70/30 split. The report measures, on the same held-out 30%, the integer
  points, the unrounded model over the same rules, and scikit-learn's HistGradientBoostingClassifier
  with default settings fitted on the same 70% (the reference). Targets: integer points within 0.005
  AUC of the reference; rounding costs at most 0.003 AUC.
* `sandbox`: the sandbox world (`--sandbox-contacts` contacts, default 200,000 — at 40,000 every gap is within its
  standard error — over `--sandbox-days` days, default 300) generated,
  ingested and built into a scratch warehouse, then `calibrate --from-warehouse` (outcome: a won deal;
  fit points on the leads' fields, engagement on the events before each lead's cut-off). Two rows: the
  fit points against the same reference as above, and fit + engagement against a gradient-boosting
  reference on the same features (fit score and faded event counts).
* `timing`: a synthetic table of `--timing-rows` leads x `--timing-columns` columns (numbers and labels,
  missing values, a planted interaction): the whole calibration's wall time against the reference
  model's fit time on the same split, and the 60 s budget.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd

from smarketing.paths import SHARED_DATA_DIR
from smarketing.scoring.calibrate import calibrate


def online_shoppers() -> tuple[pd.DataFrame, str, str]:
    path = SHARED_DATA_DIR / "online_shoppers" / "online_shoppers_intention.csv"
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    frame.insert(0, "session", [str(i) for i in range(len(frame))])
    return frame, "session", "Revenue"


def olist() -> tuple[pd.DataFrame, str, str]:
    base = SHARED_DATA_DIR / "olist"
    mqls = pd.read_csv(base / "olist_marketing_qualified_leads_dataset.csv", dtype="string")
    deals = pd.read_csv(base / "olist_closed_deals_dataset.csv", dtype="string")
    mqls["won"] = mqls["mql_id"].isin(deals["mql_id"]).astype(int).astype(str)
    # The contact date is when, not who: its month is the seasonal signal a team could use.
    mqls["first_contact_month"] = mqls.pop("first_contact_date").str.slice(5, 7)
    return mqls, "mql_id", "won"


def synthetic(rows: int, columns: int, seed: int) -> pd.DataFrame:
    """Numbers and labels with missing values; the outcome depends on a few columns and one pair."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"lead": [f"L{i}" for i in range(rows)]}
    logit = np.full(rows, -4.5)
    raw: dict[int, np.ndarray] = {}
    for j in range(columns):
        if j % 2:
            values = rng.choice([f"v{k}" for k in range(12)], size=rows).astype(object)
            effect = (np.char.str_len(values.astype(str)) + np.array([int(v[1:]) for v in values])) % 5 / 5
        else:
            values = rng.lognormal(3, 1, size=rows).round(1)
            effect = np.log1p(values) / 6
        raw[j] = values
        weight = 1.0 / (1 + j)  # a few strong columns, many weak ones
        logit += weight * effect
        text = pd.Series(values).astype("string")
        text[rng.random(rows) < 0.05] = pd.NA
        data[f"c{j}"] = text
    logit += 1.5 * ((raw[0] > 40) & (raw[1] == "v3"))
    data["won"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int).astype(str)
    return pd.DataFrame(data)


def accuracy(name: str, frame: pd.DataFrame, id_column: str, outcome: str, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    report = calibrate(frame, id_column=id_column, outcome=outcome, seed=seed).report
    row = {
        "data": name,
        "leads": report["rows_with_outcome"],
        "held_out": report["holdout_rows"],
        "auc_integer_points": report["integer_points"]["auc"],
        "auc_integer_points_se": report["integer_points"]["auc_se"],
        "auc_unrounded": report["unrounded_model"]["auc"],
        "auc_boosting_machine": report["boosting_model"]["auc"],
        "auc_reference_gbm": report["reference_model"]["auc"],
    }
    row = _targets(row, report["differences"])
    row["interactions_kept"] = [i["columns"] for i in report["interactions"] if i["kept"]]
    row["rules"] = sum(len(t["rules"]) for t in report["terms"])
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def _targets(
    row: dict[str, Any], differences: dict[str, dict[str, Any]], points: str = "integer"
) -> dict[str, Any]:
    """The two targets, each with the standard error and 95% interval of the AUC difference (DeLong, on
    the same held-out leads): a gap smaller than its standard error is noise, not a finding."""
    gap, rounding = differences[f"reference - {points}"], differences[f"unrounded - {points}"]
    row["gap_to_reference"] = gap["difference"]
    row["gap_to_reference_se"] = gap["se"]
    row["gap_to_reference_ci95"] = gap["ci95"]
    row["rounding_cost"] = rounding["difference"]
    row["rounding_cost_se"] = rounding["se"]
    row["rounding_cost_ci95"] = rounding["ci95"]
    row["within_0.005_of_reference"] = gap["difference"] <= 0.005
    row["rounding_within_0.003"] = rounding["difference"] <= 0.003
    return row


def sandbox(contacts: int, days: int, seed: int, dsn: str | None = None) -> list[dict[str, Any]]:
    """Rows for the sandbox world's outcomes, calibrated from a scratch warehouse (or from `dsn`, a
    warehouse already holding that world: `--sandbox-dsn`)."""
    import os
    import tempfile
    import uuid
    from datetime import UTC, datetime
    from pathlib import Path

    from smarketing.config import load_config
    from smarketing.paths import CONFIG_DIR
    from smarketing.scoring.calibrate.warehouse import calibrate_from_warehouse
    from smarketing.sources.files import ingest_source
    from smarketing.warehouse import migrate
    from smarketing.warehouse.connection import drop_database, with_database
    from smarketing.warehouse.core_build import build_core
    from smarketing_sandbox.world import generate_world

    scratch = dsn is None
    if scratch:
        server = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
        dsn = with_database(server, f"smk_bench_calibrate_{uuid.uuid4().hex[:8]}")
    assert dsn is not None
    try:
        if scratch:
            migrate.upgrade(dsn)
            with tempfile.TemporaryDirectory() as work:
                generate_world(
                    Path(work), contacts=contacts, seed=5, days=days, end=datetime(2026, 11, 16, tzinfo=UTC)
                )
                for mapping in ("sandbox_crm.yaml", "sandbox_ma.yaml"):
                    ingest_source(dsn, CONFIG_DIR / "sources" / mapping, root=Path(work), run_id="bench")
            build_core(dsn, load_config())
        started = time.perf_counter()
        report = calibrate_from_warehouse(dsn, seed=seed).report
        seconds = round(time.perf_counter() - started, 1)
    finally:
        if scratch:
            drop_database(dsn)
    engagement = report["engagement"]
    fit = {
        "data": f"sandbox ({contacts} contacts, {days} days): fit points",
        "leads": report["rows_with_outcome"],
        "held_out": report["holdout_rows"],
        "auc_integer_points": report["integer_points"]["auc"],
        "auc_integer_points_se": report["integer_points"]["auc_se"],
        "auc_unrounded": report["unrounded_model"]["auc"],
        "auc_reference_gbm": report["reference_model"]["auc"],
        "interactions_kept": [i["columns"] for i in report["interactions"] if i["kept"]],
        "seconds": seconds,
        "mql_threshold": report["mql"],
    }
    both = {
        "data": f"sandbox ({contacts} contacts, {days} days): fit + engagement",
        "leads": engagement["leads"],
        "held_out": engagement["holdout_leads"],
        "half_life_days": engagement["half_life_days"],
        "auc_fit_only": engagement["auc_fit_only"],
        "auc_integer_points": engagement["auc_fit_and_engagement"],
        "auc_integer_points_se": engagement["auc_se"],
        "auc_unrounded": engagement["auc_unrounded"],
        "auc_reference_gbm": engagement["auc_reference"],
        "engagement_adds": engagement["differences"]["proposal - fit only"],
        "rounding_cost_whole_engagement_points": engagement["differences"]["unrounded - whole points"],
        "event_points": {t["event_type"]: t["points"] for t in engagement["event_types"]},
    }
    return [_targets(fit, report["differences"]), _targets(both, engagement["differences"], "proposal")]


def timing(rows: int, columns: int, seed: int) -> dict[str, Any]:
    frame = synthetic(rows, columns, seed)
    started = time.perf_counter()
    report = calibrate(frame, id_column="lead", outcome="won", seed=seed).report
    seconds = time.perf_counter() - started
    reference = report["reference_model"]["fit_seconds"]
    return {
        "leads": rows,
        "columns": columns,
        "calibration_seconds": round(seconds, 1),
        "boosting_machine_fit_seconds": report["boosting_model"]["fit_seconds"],
        "reference_gbm_fit_seconds": reference,
        "ratio_to_reference_fit": round(seconds / reference, 2),
        "within_60s": seconds <= 60,
        "auc_integer_points": report["integer_points"]["auc"],
        "auc_reference_gbm": report["reference_model"]["auc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timing-rows", type=int, default=100_000)
    parser.add_argument("--timing-columns", type=int, default=40)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--sandbox-contacts", type=int, default=200_000)
    parser.add_argument("--sandbox-days", type=int, default=300)
    parser.add_argument("--skip-sandbox", action="store_true")
    parser.add_argument("--sandbox-dsn", help="a warehouse already holding the sandbox world (kept)")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_accuracy:
        result["accuracy"] = [
            accuracy("online_shoppers", *online_shoppers(), seed=args.seed),
            accuracy("olist", *olist(), seed=args.seed),
        ]
    if not args.skip_sandbox:
        result.setdefault("accuracy", []).extend(
            sandbox(args.sandbox_contacts, args.sandbox_days, args.seed, args.sandbox_dsn)
        )
    if not args.skip_timing:
        result["timing"] = timing(args.timing_rows, args.timing_columns, args.seed)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
