"""What the tasks of `smarketing_review` call: each reads its settings (param → Airflow Variable →
environment → default) and runs one step of the review. Months travel between tasks as `YYYY-MM`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from smarketing.run_settings import run_setting
from smarketing.tasklog import count, moment, summary

# Settings a deployment may change (Airflow Variable / environment variable).
REVIEW_DIR = ("smarketing_review_dir", "SMARKETING_REVIEW_DIR")
PROPOSALS_DIR = ("smarketing_review_proposals_dir", "SMARKETING_REVIEW_PROPOSALS_DIR")
MAIL_TO = ("smarketing_review_mail_to", "SMARKETING_REVIEW_MAIL_TO")
SMTP_CONN = ("smarketing_review_smtp_conn_id", "SMARKETING_REVIEW_SMTP_CONN_ID")


def _dsn() -> str:
    from smarketing.warehouse.connection import warehouse_dsn

    return warehouse_dsn(in_task=True)


def _month(text: str) -> date:
    from smarketing.review.month import closed_month

    return closed_month(None, text)


def review_dir() -> Path:
    from smarketing.paths import LOCAL_DIR

    return Path(run_setting(None, *REVIEW_DIR, default=str(LOCAL_DIR / "review")))


def plan(month: str | None, interval_start: Any) -> dict[str, str]:
    """The month a run reviews (`month` param, else the run's data interval) and when it may start."""
    from smarketing.config import load_config
    from smarketing.review.month import closed_month, first_business_day

    closed = closed_month(interval_start, month)
    start_at = first_business_day(closed, load_config())
    summary(f"review of {closed:%Y-%m}: starts at {moment(start_at)}, the first business day after it")
    return {"month": f"{closed:%Y-%m}", "start_at": start_at.isoformat()}


def build_kpis(month: str) -> dict[str, Any]:
    from smarketing.review.steps import build_month_kpis

    built = build_month_kpis(_dsn(), _month(month))
    tables = sorted(built.get("tables", {}))
    summary(f"KPIs of {month}: {count(len(tables), 'table')} rebuilt")
    return {"month": month, "tables": tables}


def render(month: str) -> str:
    from smarketing.review.steps import render_month_report

    path = render_month_report(_dsn(), _month(month))
    summary(f"review report of {month}: {Path(path).name}")
    return path


def mail(month: str, report: str, to: str | None) -> str:
    """Mail the report when an address is set (param `mail_to`, else the setting), through the SMTP
    connection and sender failure notices use (`smarketing.notify`) unless the review names its own."""
    from smarketing.notify import configured_route
    from smarketing.review.steps import mail_report

    to = run_setting(to or None, *MAIL_TO)
    if not to:
        return summary(f"review report of {month}: no address set (smarketing_review_mail_to): not mailed")
    route = configured_route()
    conn_id = run_setting(None, *SMTP_CONN, default=route.smtp_conn_id)
    sent = mail_report(
        _dsn(), _month(month), Path(report), to, smtp_conn_id=conn_id, from_email=route.from_email
    )
    return summary(
        f"review report of {month}: mailed"
        if sent
        else f"review report of {month}: already mailed, not sent again"
    )


def propose(month: str, run_id: str, months: int) -> dict[str, Any]:
    """The month's proposal; too few outcomes to calibrate on skip the scoring side (and say why)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from smarketing.review.proposal import propose as run
    from smarketing.scoring.calibrate import CalibrationError

    try:
        proposal = run(
            _dsn(), _month(month), run_id=run_id, work_dir=review_dir() / "proposals", months=months
        )
    except CalibrationError as exc:
        # Airflow shows a skip's reason folded away under "Post Execute": say it where people read.
        summary(f"scoring proposal for {month}: none this month, {exc}")
        raise AirflowSkipException(f"no scoring proposal this month: {exc}") from exc
    threshold = proposal["mql_min_score"]
    summary(
        f"scoring proposal for {month}: {proposal['proposed']['version']} (MQL at score ≥ "
        f"{threshold['candidate']:g}) against {proposal['active']['version']} in effect (≥ "
        f"{threshold['active']:g}), backtested over {count(months, 'month')}"
    )
    return proposal


def mql_words(changes: dict[str, Any], tiers: dict[str, Any] | None = None) -> str:
    """What a patch does to the MQL threshold and the SLA tiers' scores, in words ({key: [before, after]})."""
    words = [f"vocabulary.mql.{key} {before} → {after}" for key, (before, after) in changes.items()]
    words += [
        f"sla tier {tier} min_score {before} → {after}" for tier, (before, after) in (tiers or {}).items()
    ]
    return ", ".join(words) or "MQL threshold unchanged"


def decide(month: str, response: dict[str, Any] | None) -> dict[str, Any]:
    """Record the approval task's answer; on approval write the patch next to the agreement."""
    from smarketing.paths import DEFAULT_CONFIG, PROJECT_ROOT
    from smarketing.review.decision import record_decision

    proposals = Path(run_setting(None, *PROPOSALS_DIR, default=str(DEFAULT_CONFIG.parent / "proposals")))
    try:
        relative = str(DEFAULT_CONFIG.resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        relative = DEFAULT_CONFIG.name
    decision = record_decision(
        _dsn(),
        _month(month),
        response or {},
        agreement=DEFAULT_CONFIG,
        proposals_dir=proposals,
        relative=relative,
    )
    outcome = "patch " + Path(decision["patch"]).name if decision.get("patch") else "no patch"
    if decision.get("patch"):
        outcome += "; " + mql_words(decision.get("mql") or {}, decision.get("sla_tiers"))
    again = " (recorded before: unchanged)" if decision.get("rerun") else ""
    summary(f"scoring proposal for {month}: {decision['decision']}{again}; {outcome}")
    return decision
