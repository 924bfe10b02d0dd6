"""One SLA run: read the clocks at a moment, fold them into `sla.*`, measure delivery, send the alerts.

The DAG's tasks and `smarketing sla ...` call these same functions; the moment (`as_of`) is the run's
data-interval end, or any past instant for a replay.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pandas as pd

from smarketing.sla import alerts as alerting
from smarketing.sla.clock import calendars_for, evaluate_clocks
from smarketing.sla.delivery import pace, read_mqls_for_pace, write_delivery
from smarketing.sla.settings import SlaSettings
from smarketing.sla.smtp import SmtpConnectionMissing, SmtpSender, smtp_connection_defined
from smarketing.sla.store import (
    DEFAULT_REEVALUATE_DAYS,
    SLA_LOCK_KEY,
    needs_writing,
    read_inputs,
    write_followups,
)
from smarketing.tasklog import count, listing
from smarketing.tasklog import moment as when
from smarketing.tasklog import summary as summary_line
from smarketing.warehouse.connection import transaction

log = logging.getLogger(__name__)


def as_utc(moment: object | None) -> pd.Timestamp:
    """A moment as a UTC timestamp (naive values are UTC); None is now."""
    stamp = pd.Timestamp.now(tz="UTC") if moment is None else pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def evaluate_followups(
    dsn: str,
    settings: SlaSettings,
    as_of: object | None = None,
    *,
    reevaluate_days: int = DEFAULT_REEVALUATE_DAYS,
    timings: dict[str, float] | None = None,
) -> dict[str, object]:
    """Read every running clock at `as_of` and fold the readings into the SLA tables (one transaction).

    `timings`, when given, receives the seconds spent reading, computing and writing.
    """
    moment = as_utc(as_of)
    clock = time.perf_counter
    marks = [clock()]
    with transaction(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SLA_LOCK_KEY,))
        # Sorts and hashes over every running clock stay in memory (the default 4MB spills to disk).
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")  # compiling costs more than it saves on these joins
        inputs = read_inputs(conn, settings, moment, reevaluate_days=reevaluate_days)
        marks.append(clock())
        readings = evaluate_clocks(inputs.frame, settings, moment, calendars_for(settings))
        readings["input_hash"] = inputs.frame["input_hash"].to_numpy()
        readings["is_new"] = inputs.frame["stored_hash"].isna().to_numpy()
        changed = readings[needs_writing(readings, inputs.frame)]
        marks.append(clock())
        stats = write_followups(conn, changed, settings, evaluated=inputs.window)
    marks.append(clock())
    if timings is not None:
        for name, start, end in zip(("read", "compute", "write"), marks, marks[1:], strict=False):
            timings[name] = round(end - start, 3)
    result = {
        "as_of": moment.isoformat(),
        "evaluated": stats.evaluated,
        "written": stats.written,
        "new_breaches": stats.new_breaches,
        "status": _counts(readings["status"], inputs.unchanged, "status"),
        "accept_status": _counts(readings["accept_status"], inputs.unchanged, "accept_status"),
    }
    summary_line(
        f"SLA clocks read at {when(moment)}: {count(stats.evaluated, 'follow-up')} in the window, "
        f"{count(stats.written)} changed, {count(stats.new_breaches, 'new breach', 'new breaches')}; "
        f"follow-up clock: {listing(result['status'])}; accept clock: {listing(result['accept_status'])}"
    )
    return result


def _counts(computed: pd.Series, unchanged: pd.DataFrame, column: str) -> dict[str, int]:
    """Clocks per status: those computed now plus the unchanged ones as stored."""
    counts = Counter(computed.dropna())
    for status, n in unchanged.groupby(column, dropna=True)["clocks"].sum().items():
        counts[status] += int(n)
    return dict(sorted(counts.items()))


def measure_delivery(dsn: str, settings: SlaSettings, as_of: object | None = None) -> list[dict[str, object]]:
    """Marketing delivery against target for the month of `as_of` and the one before."""
    moment = as_utc(as_of)
    if not settings.targets:
        summary_line("marketing delivery: no MQL target in the agreement (sla.marketing), nothing measured")
        return []
    with transaction(dsn) as conn:
        rows = pace(read_mqls_for_pace(conn, settings, moment), settings, moment)
        write_delivery(conn, rows)
    summary_line(
        "marketing delivery: "
        + "; ".join(
            f"{r.period:%Y-%m} {r.segment}: {count(r.delivered)} of {count(r.target)} MQLs, {r.status.replace('_', ' ')}"
            for r in rows.itertuples()
        )
    )
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in rows.drop(columns=["evaluated_at"]).to_dict("records")
    ]


def send_alerts(
    dsn: str,
    settings: SlaSettings,
    as_of: object | None = None,
    *,
    sender: alerting.Sender | None = None,
    run_id: str = "cli",
) -> dict[str, object]:
    """New breaches to their owners, due escalations to managers, delivery behind pace to marketing.

    Raises AlertDeliveryError after trying every group if any message could not be sent (those stay
    unmarked, so a retry sends exactly them).
    """
    moment = as_utc(as_of)
    if not settings.alerts.configured:
        summary_line(
            f"SLA alerts: none sent, no recipients configured (sla.alerts or the {alerting.ALERTS_VARIABLE} Variable)"
        )
        return {"configured": False}
    if sender is None:
        conn_id = settings.alerts.smtp_conn_id
        # Said once, naming the connection, instead of once per message the SMTP notifier cannot send.
        if not smtp_connection_defined(conn_id):
            raise SmtpConnectionMissing(conn_id, alerting.unannounced_breaches(dsn))
        sender = SmtpSender(conn_id, settings.alerts.from_email)
    result = {
        "configured": True,
        "breaches": alerting.announce_breaches(dsn, settings, sender, run_id=run_id),
        "escalations": alerting.escalate_breaches(dsn, settings, sender, moment, run_id=run_id),
        "delivery": alerting.announce_delivery_behind(dsn, settings, sender, run_id=run_id),
    }
    failed = {k: v["failed"] for k, v in result.items() if isinstance(v, dict) and v.get("failed")}
    if failed:
        raise alerting.AlertDeliveryError(f"SLA alerts not sent, will be retried: {failed}")
    summary_line(
        "SLA alerts: "
        + "; ".join(
            f"{kind} {count(r['messages'], 'message')} ({count(r['rows'], 'item')})"
            + (f", no address for {', '.join(r['unroutable'])}" if r["unroutable"] else "")
            for kind, r in result.items()
            if isinstance(r, dict)
        )
    )
    return result
