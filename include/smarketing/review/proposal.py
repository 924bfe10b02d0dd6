"""This month's scoring proposal: recalibrated on the warehouse's outcomes (fit and engagement), backtested
against the model in effect over the last months, stored in `scoring.model_reviews` for the decision."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from smarketing.review.month import next_month


def backtest_months(month: date, months: int) -> tuple[date, date]:
    """First and last day of the `months` months ending with `month`."""
    start = month
    for _ in range(months - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, next_month(month) - timedelta(days=1)


def _calibration_summary(report: dict[str, Any]) -> dict[str, Any]:
    engagement = report.get("engagement", {})
    return {
        "leads": report["rows_with_outcome"],
        "auc_integer_points": report["integer_points"]["auc"],
        "auc_unrounded": report["unrounded_model"]["auc"],
        "auc_reference": report.get("reference_model", {}).get("auc"),
        "engagement": {
            k: engagement.get(k)
            for k in ("half_life_days", "auc_fit_only", "auc_fit_and_engagement", "auc_reference")
        },
    }


def propose(dsn: str, month: date, *, run_id: str, work_dir: Path, months: int = 3, seed: int = 7) -> dict:
    """Recalibrate, backtest and store the proposal of `month` (a rerun replaces a pending one).

    work_dir: where the calibration's files go (`<work_dir>/<YYYY-MM>/scoring.yaml`, report.md, ...).
    months: how many months, ending with the closed one, the backtest replays.
    Returns a small summary (XCom-sized): hashes, AUCs, the backtest rows and the approval body.
    """
    from smarketing.scoring.backtest import backtest, outcome_auc
    from smarketing.scoring.calibrate import write_outputs
    from smarketing.scoring.calibrate.warehouse import calibrate_from_warehouse
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.model import load_model
    from smarketing.warehouse.connection import redact_dsn

    result = calibrate_from_warehouse(dsn, seed=seed)
    version = f"review-{month:%Y-%m}"
    out = work_dir / f"{month:%Y-%m}"
    files = write_outputs(result, out, source=f"the warehouse at {redact_dsn(dsn)}", version=version)
    candidate, active = load_candidate(Path(files["scoring.yaml"])), load_model()
    start, end = backtest_months(month, months)
    table = backtest(dsn, candidate, active, start, end)
    summary = {
        "month": f"{month:%Y-%m}",
        "active": {"version": active.version, "hash": active.config_hash},
        "proposed": {"version": candidate.version, "hash": candidate.config_hash},
        "calibration": _calibration_summary(result.report),
        "backtest": json.loads(table.to_json(orient="records")),
        "auc": {
            "candidate": outcome_auc(dsn, candidate, start, end),
            "active": outcome_auc(dsn, active, start, end),
        },
        "files": files,
    }
    summary["body"] = review_body(summary)
    _store(dsn, month, run_id, result.scoring_section(version), summary)
    return summary


def _store(dsn: str, month: date, run_id: str, section: dict, summary: dict) -> None:
    from smarketing.warehouse.connection import connect

    backtest = {"months": summary["backtest"], "auc": summary["auc"]}
    with connect(dsn) as conn:
        conn.execute(
            """
            INSERT INTO scoring.model_reviews AS r (month, dag_run_id, proposed_at, active_version, active_hash,
                proposed_version, proposed_hash, proposal, calibration, backtest)
            VALUES (%(month)s, %(run)s, %(now)s, %(av)s, %(ah)s, %(pv)s, %(ph)s, %(proposal)s, %(cal)s, %(bt)s)
            ON CONFLICT (month) DO UPDATE SET dag_run_id = EXCLUDED.dag_run_id,
                proposed_at = EXCLUDED.proposed_at, active_version = EXCLUDED.active_version,
                active_hash = EXCLUDED.active_hash, proposed_version = EXCLUDED.proposed_version,
                proposed_hash = EXCLUDED.proposed_hash, proposal = EXCLUDED.proposal,
                calibration = EXCLUDED.calibration, backtest = EXCLUDED.backtest
            WHERE r.decision = 'pending'
            """,
            {
                "month": month,
                "run": run_id,
                "now": datetime.now(UTC),
                "av": summary["active"]["version"],
                "ah": summary["active"]["hash"],
                "pv": summary["proposed"]["version"],
                "ph": summary["proposed"]["hash"],
                "proposal": Jsonb(section),
                "cal": Jsonb(summary["calibration"]),
                "bt": Jsonb(backtest),
            },
        )


def _rate(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"


def review_body(summary: dict[str, Any]) -> str:
    """The approval request's body (Markdown): what changes, the backtest per month, the AUCs."""
    cal, auc = summary["calibration"], summary["auc"]
    lines = [
        f"**Scoring proposal for {summary['month']}**: `{summary['proposed']['version']}` "
        f"(hash {summary['proposed']['hash']}) against the model in effect `{summary['active']['version']}` "
        f"(hash {summary['active']['hash']}).",
        "",
        f"Calibrated on {cal['leads']} leads with an outcome: held-out AUC {cal['auc_integer_points']} "
        f"(reference {cal['auc_reference']}); with engagement {cal['engagement']['auc_fit_and_engagement']} "
        f"(half-life {cal['engagement']['half_life_days']} days).",
        "",
        "| month | model | MQLs | MQL→SQL | MQL→won |",
        "|---|---|---|---|---|",
    ]
    for row in sorted(summary["backtest"], key=lambda r: (r["month"], r["model"])):
        lines.append(
            f"| {row['month']} | {row['model']} | {row['mqls']} | {row['to_sql']} ({_rate(row['sql_rate'])}) "
            f"| {row['converted']} ({_rate(row['conversion_rate'])}) |"
        )
    lines += [
        "",
        f"AUC of the scores at the start of the backtest on the deals decided since: proposal "
        f"{auc['candidate']['auc']}, in effect {auc['active']['auc']} ({auc['active']['leads']} deals).",
        "",
        "**Approve** writes the proposal as a patch of config/smarketing.yaml for a pull request; "
        "**Reject** (or no answer in time) changes nothing. Add a comment either way.",
    ]
    return "\n".join(lines)
