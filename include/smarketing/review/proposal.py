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


def _calibration_summary(report: dict[str, Any], mql: dict[str, Any] | None) -> dict[str, Any]:
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
        "mql": _mql_summary(report.get("mql"), mql),
    }


def _mql_summary(matched: dict[str, Any] | None, mql: dict[str, Any] | None) -> dict[str, Any] | None:
    """The threshold in effect and the proposal's (on its own scale), with the MQLs each makes at the
    moment they were matched; None when the calibration proposed no threshold."""
    if matched is None or mql is None:
        return None
    return {
        "active_min_score": matched["active_min_score"],
        "min_score": mql["min_score"],
        "min_grade": mql.get("min_grade"),
        "as_of": matched["as_of"],
        "active_mqls": matched["active_mqls"],
        "proposal_mqls": matched["proposal_mqls"],
        "sla_tiers": matched.get("sla_tiers", []),
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
        "calibration": _calibration_summary(result.report, result.mql),
        "backtest": json.loads(table.to_json(orient="records")),
        # The thresholds the backtest's MQLs were counted at (each model's own vocabulary.mql.min_score).
        "mql_min_score": {"candidate": candidate.mql_min_score, "active": active.mql_min_score},
        "auc": {
            "candidate": outcome_auc(dsn, candidate, start, end),
            "active": outcome_auc(dsn, active, start, end),
        },
        "files": files,
    }
    summary["body"] = review_body(summary)
    # The whole proposal, threshold included: new points with the old threshold would flood or starve sales.
    _store(dsn, month, run_id, result.candidate_document(version), summary)
    return summary


def _store(dsn: str, month: date, run_id: str, proposal: dict, summary: dict) -> None:
    """Upsert `month`'s pending review. proposal: the proposal document (`scoring:` and
    `vocabulary.mql`, `Calibration.candidate_document`); summary: what `propose` returns."""
    from smarketing.warehouse.connection import connect

    backtest = {
        "months": summary["backtest"],
        "auc": summary["auc"],
        "mql_min_score": summary["mql_min_score"],
    }
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
                "proposal": Jsonb(proposal),
                "cal": Jsonb(summary["calibration"]),
                "bt": Jsonb(backtest),
            },
        )


def _rate(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"


def _score(value: Any) -> str:
    return f"{value:g}"


def mql_threshold_line(mql: dict[str, Any] | None) -> str:
    """The proposal's MQL threshold against the one in effect, in words (Markdown)."""
    if mql is None:
        return "**MQL threshold**: the proposal keeps `vocabulary.mql` as it is."
    grade = f" (grade {mql['min_grade']} or better, unchanged)" if mql.get("min_grade") else ""
    return (
        f"**MQL threshold** `vocabulary.mql.min_score`: {_score(mql['active_min_score'])} in effect → "
        f"**{_score(mql['min_score'])}** proposed{grade}, on the proposal's own point scale: at {mql['as_of']} "
        f"the agreement in effect makes {mql['active_mqls']} MQLs, the proposal {mql['proposal_mqls']}. "
        "Approving sets both the points and this threshold."
        + "".join(_tier_words(tier) for tier in mql.get("sla_tiers") or [])
    )


def _tier_words(tier: dict[str, Any]) -> str:
    return (
        f"\n\n**SLA tier `{tier['id']}`** `when.min_score`: {_score(tier['active_min_score'])} in effect → "
        f"**{_score(tier['min_score'])}** proposed: {tier['active_leads']} of the MQLs in effect reach it, "
        f"{tier['proposal_leads']} of the proposal's (approving sets it too)."
    )


def review_body(summary: dict[str, Any]) -> str:
    """The approval request's body (Markdown): what changes (points and MQL threshold), the backtest per
    month with each model's threshold, the AUCs."""
    cal, auc = summary["calibration"], summary["auc"]
    threshold = {model: _score(v) for model, v in (summary.get("mql_min_score") or {}).items()}
    lines = [
        f"**Scoring proposal for {summary['month']}**: `{summary['proposed']['version']}` "
        f"(hash {summary['proposed']['hash']}) against the model in effect `{summary['active']['version']}` "
        f"(hash {summary['active']['hash']}).",
        "",
        f"Calibrated on {cal['leads']} leads with an outcome: held-out AUC {cal['auc_integer_points']} "
        f"(reference {cal['auc_reference']}); with engagement {cal['engagement']['auc_fit_and_engagement']} "
        f"(half-life {cal['engagement']['half_life_days']} days).",
        "",
        mql_threshold_line(cal.get("mql")),
        "",
        "| month | model | MQL at score ≥ | MQLs | MQL→SQL | MQL→won |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(summary["backtest"], key=lambda r: (r["month"], r["model"])):
        lines.append(
            f"| {row['month']} | {row['model']} | {threshold.get(row['model'], '—')} | {row['mqls']} "
            f"| {row['to_sql']} ({_rate(row['sql_rate'])}) | {row['converted']} ({_rate(row['conversion_rate'])}) |"
        )
    lines += [
        "",
        f"AUC of the scores at the start of the backtest on the deals decided since: proposal "
        f"{auc['candidate']['auc']}, in effect {auc['active']['auc']} ({auc['active']['leads']} deals).",
        "",
        "**Approve** writes the proposal (points and MQL threshold) as a patch of config/smarketing.yaml "
        "for a pull request; "
        "**Reject** (or no answer in time) changes nothing. Add a comment either way.",
    ]
    return "\n".join(lines)
