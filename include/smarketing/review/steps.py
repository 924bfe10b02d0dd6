"""The report side of the review: the closed month's KPIs, its report, and mailing it once per address."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from smarketing.review.month import next_month


def build_month_kpis(dsn: str, month: date) -> dict[str, Any]:
    """Rewrite every KPI table's periods of `month`, measured at the month's end; the periods after it
    stay as the latest regular build measured them (`build_kpis` of an earlier moment), so the review
    neither empties the month in progress nor moves the Smarketing page's "built as of"."""
    import pandas as pd

    from smarketing.config import load_config
    from smarketing.kpi.build import build_kpis
    from smarketing.kpi.settings import settings_from_agreement

    settings = settings_from_agreement(load_config())
    end = pd.Timestamp(next_month(month)).tz_localize(settings.timezone)
    return build_kpis(dsn, settings, as_of=end.isoformat(), from_day=month)


def render_month_report(dsn: str, month: date) -> str:
    """The review report of `month`, one self-contained HTML file where the reports are listed
    (`smarketing.paths.report_dir()`, `review-YYYY-MM.html`); returns its path."""
    from smarketing.kpi.report import render_report

    return str(render_report(dsn, month).path)


def mail_report(
    dsn: str, month: date, report: Path, to: str, *, smtp_conn_id: str, from_email: str | None = None
) -> bool:
    """Mail the report (its HTML as the body) to `to` unless it already went there for this month.

    Returns True when a message was sent. The address is kept only as a hash (ops.review_mailings).
    """
    from smarketing.sla.alerts import AlertMessage
    from smarketing.sla.smtp import SmtpSender
    from smarketing.warehouse.connection import connect

    key = hashlib.sha256(to.strip().lower().encode()).hexdigest()
    with connect(dsn) as conn:
        # The row is claimed first and committed only once the message went out: a failed send rolls
        # back and the retry sends; a rerun after success finds the row and sends nothing.
        claimed = conn.execute(
            "INSERT INTO ops.review_mailings (month, recipient_hash) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (month, key),
        ).fetchone()
        if claimed is None:
            return False
        message = AlertMessage(
            to=to,
            subject=f"Smarketing review {month:%B %Y}",
            html=report.read_text(encoding="utf-8"),
            message_id=f"<smarketing-review-{month:%Y-%m}-{key[:12]}@smarketing>",
        )
        SmtpSender(smtp_conn_id, from_email).send(message)
    return True
