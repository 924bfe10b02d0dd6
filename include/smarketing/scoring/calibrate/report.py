"""The calibration's report: held-out accuracy next to a gradient-boosting reference, deciles, the
calibration table, the rules per column and interaction, what was left out — and the files written."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from smarketing.scoring.calibrate.clean import Column
from smarketing.scoring.calibrate.uncertainty import auc_differences, auc_se, difference_lines

if TYPE_CHECKING:
    from smarketing.scoring.calibrate.fitting import Calibration, LearntTerms, Options


def decile_table(score: np.ndarray, outcome: np.ndarray) -> list[dict[str, Any]]:
    """Conversion and lift per score decile (decile 1 = highest scores)."""
    order = pd.Series(score).rank(method="first", ascending=False).to_numpy()
    decile = np.minimum((order - 1) * 10 // len(score), 9).astype(int) + 1
    base = outcome.mean()
    rows = []
    for d in range(1, 11):
        mask = decile == d
        if not mask.any():
            continue
        rate = float(outcome[mask].mean())
        rows.append(
            {
                "decile": d,
                "leads": int(mask.sum()),
                "converted": int(outcome[mask].sum()),
                "conversion_rate": round(rate, 4),
                "lift": round(rate / base, 3) if base else None,
                "min_score": float(np.min(score[mask])),
            }
        )
    return rows


def metrics(score: np.ndarray, outcome: np.ndarray) -> dict[str, Any]:
    return {"auc": round(float(roc_auc_score(outcome, score)), 4), "deciles": decile_table(score, outcome)}


def calibration_table(logit: np.ndarray, outcome: np.ndarray) -> list[dict[str, Any]]:
    """Predicted against observed conversion per decile of the predicted probability (held out)."""
    probability = 1 / (1 + np.exp(-logit))
    order = pd.Series(probability).rank(method="first").to_numpy()
    decile = np.minimum((order - 1) * 10 // len(logit), 9).astype(int) + 1
    frame = pd.DataFrame({"decile": decile, "predicted": probability, "observed": outcome})
    table = frame.groupby("decile").agg(
        leads=("observed", "size"), predicted=("predicted", "mean"), observed=("observed", "mean")
    )
    return [
        {
            "decile": int(d),
            "leads": int(r.leads),
            "predicted": round(float(r.predicted), 4),
            "observed": round(float(r.observed), 4),
        }
        for d, r in table.iterrows()
    ]


def reference_model(
    columns: Sequence[Column], y: np.ndarray, split: tuple[np.ndarray, np.ndarray], seed: int
) -> tuple[dict[str, Any], np.ndarray]:
    """scikit-learn's HistGradientBoostingClassifier, default settings, on the same split and columns;
    its report entry and its held-out scores."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = pd.DataFrame(
        {
            c.name: (c.model_values() if c.kind == "numeric" else pd.Categorical(c.model_values()))
            for c in columns
        }
    )
    train, test = split
    model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
    started = time.perf_counter()
    model.fit(frame.iloc[train], y[train])
    seconds = time.perf_counter() - started
    scores = model.predict_proba(frame.iloc[test])[:, 1]
    auc = roc_auc_score(y[test], scores)
    entry = {
        "model": "HistGradientBoostingClassifier (defaults)",
        "auc": round(float(auc), 4),
        "fit_seconds": round(seconds, 2),
    }
    return entry, scores


def build_report(
    *,
    columns: Sequence[Column],
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    model: LearntTerms,
    unrounded: np.ndarray,
    intercept: float,
    integers: np.ndarray,
    scale: float,
    seed: int,
    options: Options,
    skipped: Mapping[str, str],
    rows: int,
) -> dict[str, Any]:
    _, test = split
    x_test = model.x[test]
    report: dict[str, Any] = {
        "rows": rows,
        "rows_with_outcome": len(y),
        "positives": int(y.sum()),
        "base_rate": round(float(y.mean()), 4),
        "holdout_rows": len(test),
        "seed": seed,
        "scale": round(scale, 4),
        "integer_points": metrics(x_test @ integers, y[test]),
        "unrounded_model": metrics(x_test @ unrounded, y[test]),
        "boosting_model": {
            "auc": round(model.boosting_auc, 4),
            "fit_seconds": round(model.boosting_seconds, 2),
        },
    }
    held_out = {"integer": x_test @ integers, "unrounded": x_test @ unrounded}
    pairs = [("unrounded", "integer")]
    if options.reference:
        report["reference_model"], held_out["reference"] = reference_model(columns, y, split, seed)
        pairs.insert(0, ("reference", "integer"))
    report["integer_points"]["auc_se"] = auc_se(y[test], held_out["integer"])
    # Gap to the reference and cost of rounding, each with DeLong's standard error on the same leads.
    report["differences"] = auc_differences(y[test], held_out, pairs)
    report["calibration"] = calibration_table(x_test @ unrounded + intercept, y[test])
    report["auc_loss"] = round(report["unrounded_model"]["auc"] - report["integer_points"]["auc"], 4)
    report["terms"] = _terms(model, integers, unrounded)
    report["interactions"] = model.interactions
    report["skipped_columns"] = dict(skipped)
    return report


def _terms(model: LearntTerms, integers: np.ndarray, unrounded: np.ndarray) -> list[dict[str, Any]]:
    counts = model.x.sum(axis=0)
    out = []
    for t, term in enumerate(model.terms):
        leaves = [i for i, leaf in enumerate(model.leaves) if leaf.term == t]
        out.append(
            {
                "columns": list(term.columns),
                "rules": [
                    {
                        "when": model.leaves[i].describe(),
                        "leads": int(counts[i]),
                        "coefficient": round(float(unrounded[i]), 4),
                        "points": int(integers[i]),
                    }
                    for i in leaves
                ],
            }
        )
    return out


def _markdown(report: Mapping[str, Any], source: str, version: str) -> str:
    reference = report.get("reference_model")
    lines = [
        f"# Calibration of fit points: {version}",
        "",
        f"Source: {source} — {report['rows_with_outcome']} leads with an outcome, {report['positives']} converted "
        f"(base rate {report['base_rate']:.1%}); measured on a held-out {report['holdout_rows']} leads "
        f"(seed {report['seed']}).",
        "",
        "| model on the held-out leads | AUC |",
        "|---|---|",
        f"| integer points (scoring.yaml) | {report['integer_points']['auc']:.4f} |",
        f"| unrounded logistic model over the same rules | {report['unrounded_model']['auc']:.4f} |",
        f"| explainable boosting machine the rules were distilled from | {report['boosting_model']['auc']:.4f} |",
    ]
    if reference:
        lines.append(f"| reference: {reference['model']} | {reference['auc']:.4f} |")
    lines += ["", *difference_lines(report["differences"])]
    lines += ["", "## Conversion by score decile (held out; decile 1 = highest scores)", ""]
    lines += ["| decile | leads | converted | conversion | lift |", "|---|---|---|---|---|"]
    lines += [
        f"| {d['decile']} | {d['leads']} | {d['converted']} | {d['conversion_rate']:.1%} | {d['lift']} |"
        for d in report["integer_points"]["deciles"]
    ]
    lines += ["", "## Calibration (held out): predicted vs observed conversion per decile", ""]
    lines += ["| decile | leads | predicted | observed |", "|---|---|---|---|"]
    lines += [
        f"| {c['decile']} | {c['leads']} | {c['predicted']:.1%} | {c['observed']:.1%} |"
        for c in report["calibration"]
    ]
    lines += ["", "## Rules per column and interaction", ""]
    for term in report["terms"]:
        lines += [f"**{' × '.join(term['columns'])}**", ""]
        lines += [f"- {r['when']}: {r['points']:+d} points ({r['leads']} leads)" for r in term["rules"]]
        lines.append("")
    if report["interactions"]:
        lines += [
            "## Interactions tried (3-fold cross-validation on the training leads)",
            "",
            "Kept when the log-likelihood gain is at least 2.33 standard errors and the AUC does not drop.",
            "",
            "| interaction | AUC gain | log-likelihood gain per lead (standard error) | |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {' × '.join(i['columns'])} | {i['cv_auc_gain']:+.4f} | {i['cv_log_likelihood_gain']:+.5f} "
            f"({i['cv_log_likelihood_gain_se']:.5f}) | {'kept' if i['kept'] else 'left out'} |"
            for i in report["interactions"]
        ]
        lines.append("")
    if report["skipped_columns"]:
        lines += ["## Columns left out", ""]
        lines += [f"- {column}: {why}" for column, why in report["skipped_columns"].items()]
    if "mql" in report:
        mql = report["mql"]
        lines += [
            "",
            "## MQL threshold on the proposal's scale",
            "",
            f"`vocabulary.mql.min_score: {mql['min_score']:g}` (active: {mql['active_min_score']:g}): at "
            f"{mql['as_of']} the active agreement makes {mql['active_mqls']} MQLs of the warehouse's leads, "
            f"the proposal at this threshold {mql['proposal_mqls']}.",
        ]
        lines += [
            f"`sla.sales.tiers` `{tier['id']}` `when.min_score: {tier['min_score']:g}` (active: "
            f"{tier['active_min_score']:g}): {tier['active_leads']} of the active agreement's MQLs reach the "
            f"tier, {tier['proposal_leads']} of the proposal's."
            for tier in mql.get("sla_tiers", [])
        ]
    if "engagement" in report:
        from smarketing.scoring.calibrate.engagement import markdown

        lines += ["", *markdown(report["engagement"])]
    return "\n".join(lines) + "\n"


def write_outputs(
    result: Calibration, out_dir: Path, *, source: str, version: str | None = None
) -> dict[str, str]:
    """scoring.yaml (the proposed `scoring:` section), report.json and report.md in `out_dir`."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    version = version or f"calibrated-{datetime.now(UTC):%Y%m%d}"
    section = result.candidate_document(version)
    header = (
        f"# Fit points calibrated by `smarketing calibrate` on {source}\n"
        f"# held-out AUC {result.report['integer_points']['auc']} (unrounded model "
        f"{result.report['unrounded_model']['auc']}); see report.md. Review, then paste into config/smarketing.yaml.\n"
    )
    (out_dir / "scoring.yaml").write_text(
        header + yaml.safe_dump(section, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (out_dir / "report.json").write_text(json.dumps(result.report, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(_markdown(result.report, source, version), encoding="utf-8")
    return {name: str(out_dir / name) for name in ("scoring.yaml", "report.json", "report.md")}
