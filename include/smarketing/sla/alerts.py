"""Announcing breaches once, escalating them once, and telling marketing when delivery falls behind.

**Exactly-once-safe marking.** Each message is sent inside the transaction that records it: the rows it
announces are locked (`FOR UPDATE SKIP LOCKED`), the `sla.alerts` row is inserted, the message goes to the
SMTP server, the rows are marked, and only then does the transaction commit. So:

* a send that fails rolls everything back: nothing is marked, the next attempt (task retry, next hour)
  announces the same breaches — an alert is never lost;
* two runs at once never announce the same breach: the second skips the rows the first holds;
* the only window for a duplicate is a crash between the server accepting the message and the commit
  (milliseconds). The resend then carries the same `Message-ID` (derived from what it announces), which
  mail systems use to fold duplicates. Marking first and sending after would turn that window into a lost
  alert instead, and a missed breach alert is the worse failure.

Messages are grouped: one per owner per run for new breaches, one per manager for escalations, one for
marketing. Bodies name lead ids, kinds and due times, never an address; logs name owner ids only.

**Bounded messages.** A backlog (a new source's history, a team without an owner) can put tens of
thousands of breaches in one group. A message announces them all (they are all marked) but lists only
the `max_listed` longest overdue, counts the rest, and points to the full list: the breaches carrying the
message's alert id in `sla.breaches` (and `full_list_url` when the agreement names one).
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

import pandas as pd
import psycopg

from smarketing.errors import SmarketingError
from smarketing.privacy import mask_emails
from smarketing.sla.settings import AlertSettings, SlaSettings
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

ALERTS_VARIABLE = "smarketing_sla_alerts"
ALERTS_ENV = "SMARKETING_SLA_ALERTS"
KIND_LABELS = {"first_touch": "first touch", "accept": "accept / reject decision"}


class AlertDeliveryError(SmarketingError):
    """Some alerts could not be sent; they stay unmarked and go out on the next attempt."""


def redact(text: str) -> str:
    """Error texts from mail servers quote addresses; logs and exceptions must not."""
    return mask_emails(text, keep_domain=False)


@dataclass(frozen=True)
class AlertMessage:
    to: str
    subject: str
    html: str
    message_id: str


@dataclass(frozen=True)
class Draft:
    """A message before its `sla.alerts` row exists: the body names the alert id, known only after."""

    to: str
    subject: str
    message_id: str
    route: str
    owner_id: str | None
    body: Callable[[int], str]

    def message(self, alert_id: int) -> AlertMessage:
        return AlertMessage(self.to, self.subject, self.body(alert_id), self.message_id)


class Sender(Protocol):
    def send(self, message: AlertMessage) -> None: ...


def with_overrides(alerts: AlertSettings) -> AlertSettings:
    """Addresses from the Airflow Variable `smarketing_sla_alerts` (or SMARKETING_SLA_ALERTS) on top of the
    agreement's: JSON `{"team": ..., "marketing": ..., "recipients": {"<owner id>": ...}, "from_email": ...,
    "smtp_conn_id": ...}`. Personal addresses belong there rather than in the agreement file."""
    from smarketing.run_settings import json_run_setting

    extra = json_run_setting(None, ALERTS_VARIABLE, ALERTS_ENV)
    if not extra:
        return alerts
    return replace(
        alerts,
        smtp_conn_id=extra.get("smtp_conn_id", alerts.smtp_conn_id),
        from_email=extra.get("from_email", alerts.from_email),
        team_to=extra.get("team", alerts.team_to),
        marketing_to=extra.get("marketing", alerts.marketing_to),
        recipients={**alerts.recipients, **extra.get("recipients", {})},
        max_listed=int(extra.get("max_listed", alerts.max_listed)),
        full_list_url=extra.get("full_list_url", alerts.full_list_url),
    )


def _message_id(kind: str, keys: Iterable[object], from_email: str | None) -> str:
    digest = hashlib.sha256(f"{kind}:{','.join(map(str, keys))}".encode()).hexdigest()[:24]
    domain = from_email.rpartition("@")[2] if from_email and "@" in from_email else "smarketing.local"
    return f"<sla.{kind}.{digest}@{domain}>"


def _local(value: object, timezone: str) -> str:
    return pd.Timestamp(value).tz_convert(timezone).strftime("%a %d %b %Y %H:%M %Z")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"


def _breach_rows(rows: list[tuple], timezone: str) -> list[list[str]]:
    return [
        [str(lead_id), KIND_LABELS.get(kind, kind), _local(due, timezone)]
        for _, lead_id, kind, due, *_ in rows
    ]


def longest_overdue(rows: list[tuple], alerts: AlertSettings) -> list[tuple]:
    """The `max_listed` breach rows (breach_id, lead_id, kind, due_at, ...) due the longest ago."""
    return sorted(rows, key=lambda r: (r[3], r[1] or 0, r[0]))[: alerts.max_listed]


def rest_of_list(total: int, listed: int, alerts: AlertSettings, alert_id: int, column: str) -> str:
    """The paragraph after a capped table: how many more, and where the full list is."""
    if total <= listed:
        return ""
    query = f"SELECT lead_id, kind, due_at FROM sla.breaches WHERE {column} = {alert_id} ORDER BY due_at"
    link = ""
    if alerts.full_list_url:
        url = alerts.full_list_url.replace("{alert_id}", str(alert_id))
        link = f" <a href='{html.escape(url, quote=True)}'>Open the full list</a>."
    return (
        f"<p>… and {total - listed:,} more (the {listed:,} longest overdue are listed above).{link} "
        f"All {total:,} in the warehouse: <code>{html.escape(query)}</code></p>"
    )


def _breach_draft(
    alerts: AlertSettings,
    kind: str,
    recipient: str | None,
    rows: list[tuple],
    *,
    subject: str,
    body: str,
    listed: int,
) -> Draft | None:
    """A breach or escalation message to `recipient` (an owner or manager id; None if unroutable).

    `body` lists `listed` of the `rows`; the paragraph counting the rest and pointing to the full list
    (by the message's alert id, in `alert_id` or `escalation_alert_id`) is added once the id is known.
    """
    route = alerts.for_owner(recipient)
    if route is None:
        return None
    column = "alert_id" if kind == "breach" else "escalation_alert_id"
    return Draft(
        to=route[0],
        subject=subject,
        message_id=_message_id(kind, sorted(r[0] for r in rows), alerts.from_email),
        route=route[1],
        owner_id=recipient,
        body=lambda alert_id: body + rest_of_list(len(rows), listed, alerts, alert_id, column),
    )


@dataclass
class _Outcome:
    sent: int = 0
    announced: int = 0
    failed: list[str] | None = None
    unroutable: list[str] | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": self.sent,
            "rows": self.announced,
            "failed": self.failed or [],
            "unroutable": self.unroutable or [],
        }


def _announce_groups(
    dsn: str,
    groups: list[str | None],
    lock_rows: Callable[[psycopg.Connection, str | None], list[tuple]],
    compose: Callable[[str | None, list[tuple]], Draft | None],
    mark: Callable[[psycopg.Connection, list[tuple], int], None],
    kind: str,
    audience: str,
    sender: Sender,
    run_id: str,
) -> _Outcome:
    """One transaction per group: lock its rows, record the alert, send, mark, commit."""
    outcome = _Outcome(failed=[], unroutable=[])
    for group in groups:
        label = group or "(none)"
        try:
            with connect(dsn) as conn, conn.transaction():
                rows = lock_rows(conn, group)
                if not rows:
                    continue  # another run took them, or they resolved meanwhile
                draft = compose(group, rows)
                if draft is None:
                    outcome.unroutable.append(label)
                    continue
                lead_ids = sorted({int(r[1]) for r in rows if r[1] is not None})
                alert_id = conn.execute(
                    """
                    INSERT INTO sla.alerts (kind, audience, owner_id, route, message_id, lead_ids, run_id)
                    VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING alert_id
                    """,
                    (kind, audience, draft.owner_id, draft.route, draft.message_id, lead_ids, run_id),
                ).fetchone()[0]
                sender.send(draft.message(alert_id))
                mark(conn, rows, alert_id)
            outcome.sent += 1
            outcome.announced += len(rows)
            log.info("%s alert for %s: %d item(s)", kind, label, len(rows))
        except Exception as exc:
            outcome.failed.append(label)
            log.error(
                "%s alert for %s not sent (will retry): %s",
                kind,
                label,
                redact(f"{type(exc).__name__}: {exc}"),
            )
    return outcome


# -- new breaches, per owner ----------------------------------------------------------------------------
def announce_breaches(dsn: str, settings: SlaSettings, sender: Sender, *, run_id: str = "cli") -> dict:
    """Tell each owner about their breaches not yet announced (one message per owner)."""
    alerts, timezone = settings.alerts, settings.calendar.timezone
    with connect(dsn) as conn:
        groups = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT owner_id FROM sla.breaches WHERE alerted_at IS NULL AND resolved_at IS NULL"
            ).fetchall()
        ]

    def lock_rows(conn: psycopg.Connection, owner_id: str | None) -> list[tuple]:
        return conn.execute(
            """
            SELECT breach_id, lead_id, kind, due_at FROM sla.breaches
            WHERE owner_id IS NOT DISTINCT FROM %s AND alerted_at IS NULL AND resolved_at IS NULL
            ORDER BY due_at, lead_id, kind
            FOR UPDATE SKIP LOCKED
            """,
            (owner_id,),
        ).fetchall()

    def compose(owner_id: str | None, rows: list[tuple]) -> Draft | None:
        who = f"owner {owner_id}" if owner_id else "unassigned leads"
        listed = longest_overdue(rows, alerts)
        return _breach_draft(
            alerts,
            "breach",
            owner_id,
            rows,
            subject=f"SLA breach: {len(rows):,} MQL deadline(s) missed ({who})",
            body=f"<p>These handed-over MQLs ({html.escape(who)}) are past their SLA deadline and still open. "
            "Please follow up now; they go to your manager if still open later.</p>"
            + _table(["Lead id", "Missed", "Was due"], _breach_rows(listed, timezone)),
            listed=len(listed),
        )

    def mark(conn: psycopg.Connection, rows: list[tuple], alert_id: int) -> None:
        conn.execute(
            "UPDATE sla.breaches SET alerted_at = now(), alert_id = %s WHERE breach_id = ANY(%s)",
            (alert_id, [r[0] for r in rows]),
        )

    return _announce_groups(
        dsn, groups, lock_rows, compose, mark, "breach", "owner", sender, run_id
    ).as_dict()


# -- escalations, per manager -----------------------------------------------------------------------------
_ESCALATION_DUE = """
    FROM sla.breaches b LEFT JOIN core.owners o ON o.owner_id = b.owner_id
    WHERE b.alerted_at IS NOT NULL AND b.escalated_at IS NULL AND b.resolved_at IS NULL
      AND b.escalate_at <= %(as_of)s
"""


def escalate_breaches(
    dsn: str, settings: SlaSettings, sender: Sender, as_of: pd.Timestamp, *, run_id: str = "cli"
) -> dict:
    """Tell each manager about their team's announced breaches still open at the escalation time."""
    alerts, timezone = settings.alerts, settings.calendar.timezone
    params = {"as_of": as_of.to_pydatetime()}
    with connect(dsn) as conn:
        groups = [
            r[0] for r in conn.execute(f"SELECT DISTINCT o.manager_id {_ESCALATION_DUE}", params).fetchall()
        ]

    def lock_rows(conn: psycopg.Connection, manager_id: str | None) -> list[tuple]:
        return conn.execute(
            f"""
            SELECT b.breach_id, b.lead_id, b.kind, b.due_at, b.owner_id {_ESCALATION_DUE}
              AND o.manager_id IS NOT DISTINCT FROM %(manager)s
            ORDER BY b.owner_id, b.due_at, b.lead_id
            FOR UPDATE OF b SKIP LOCKED
            """,
            {**params, "manager": manager_id},
        ).fetchall()

    def compose(manager_id: str | None, rows: list[tuple]) -> Draft | None:
        listed = sorted(longest_overdue(rows, alerts), key=lambda r: (r[4] or "", r[3], r[1] or 0))
        table_rows = [
            [r[4] or "(unassigned)", *row]
            for r, row in zip(listed, _breach_rows(listed, timezone), strict=True)
        ]
        return _breach_draft(
            alerts,
            "escalation",
            manager_id,
            rows,
            subject=f"SLA escalation: {len(rows):,} MQL deadline(s) still missed in your team",
            body="<p>These breaches were announced to their owners and are still open past the escalation "
            "delay agreed in the SLA.</p>" + _table(["Owner", "Lead id", "Missed", "Was due"], table_rows),
            listed=len(listed),
        )

    def mark(conn: psycopg.Connection, rows: list[tuple], alert_id: int) -> None:
        conn.execute(
            "UPDATE sla.breaches SET escalated_at = now(), escalation_alert_id = %s WHERE breach_id = ANY(%s)",
            (alert_id, [r[0] for r in rows]),
        )

    return _announce_groups(
        dsn, groups, lock_rows, compose, mark, "escalation", "manager", sender, run_id
    ).as_dict()


# -- marketing behind pace ----------------------------------------------------------------------------------
def announce_delivery_behind(dsn: str, settings: SlaSettings, sender: Sender, *, run_id: str = "cli") -> dict:
    """Tell marketing, once per month and segment, that MQL delivery is behind the agreed pace."""
    alerts = settings.alerts

    def lock_rows(conn: psycopg.Connection, _: str | None) -> list[tuple]:
        return conn.execute(
            """
            SELECT period, NULL::bigint, segment, target, delivered, expected_to_date, forecast
            FROM sla.marketing_delivery
            WHERE status = 'behind' AND alerted_at IS NULL AND elapsed_share >= %s
            ORDER BY period, segment
            FOR UPDATE SKIP LOCKED
            """,
            (settings.alert_from_share,),
        ).fetchall()

    def compose(_: str | None, rows: list[tuple]) -> Draft | None:
        if not alerts.marketing_to:
            return None
        table_rows = [
            [
                f"{p:%Y-%m}",
                seg,
                str(target),
                str(delivered),
                f"{expected:.0f}",
                "-" if fc is None else f"{fc:.0f}",
            ]
            for p, _, seg, target, delivered, expected, fc in rows
        ]
        body = (
            "<p>MQL delivery is behind the pace agreed with sales (target spread over the month's business "
            "time).</p>"
            + _table(["Month", "Segment", "Target", "Delivered", "Expected by now", "Forecast"], table_rows)
        )
        keys = [f"{p:%Y-%m}/{seg}" for p, _, seg, *_ in rows]
        return Draft(
            to=alerts.marketing_to,
            subject=f"MQL delivery behind pace: {', '.join(keys)}",
            message_id=_message_id("delivery", keys, alerts.from_email),
            route="marketing",
            owner_id=None,
            body=lambda _alert_id: body,
        )

    def mark(conn: psycopg.Connection, rows: list[tuple], alert_id: int) -> None:
        conn.execute(
            """
            UPDATE sla.marketing_delivery SET alerted_at = now(), alert_id = %s
            WHERE (period, segment) IN (SELECT * FROM unnest(%s::date[], %s::text[]))
            """,
            (alert_id, [r[0] for r in rows], [r[2] for r in rows]),
        )

    return _announce_groups(
        dsn, [None], lock_rows, compose, mark, "delivery_behind", "marketing", sender, run_id
    ).as_dict()


def unannounced_breaches(dsn: str) -> int:
    """Open breaches no message has announced yet (what waits while alerts cannot be sent)."""
    with connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM sla.breaches WHERE alerted_at IS NULL AND resolved_at IS NULL"
        ).fetchone()[0]
