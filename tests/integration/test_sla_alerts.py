"""Alerts through Airflow's SMTP provider to a local SMTP sink: once per breach, escalated once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from email.message import Message

import psycopg
import pytest

from smarketing.sla.alerts import AlertDeliveryError
from smarketing.sla.run import evaluate_followups, measure_delivery, send_alerts
from tests.integration.test_sla_seed import SETTINGS, paris, seed
from tests.smtp_sink import Sink, smtp_sink

pytestmark = pytest.mark.integration

MQL = "marketingqualifiedlead"
MONDAY_10 = paris("2026-11-23 10:00")
ADDRESSES = ("alice@northwind.example", "sales-team@northwind.example", "marketing@northwind.example")
ALERTING = replace(SETTINGS, alerts=replace(SETTINGS.alerts, smtp_conn_id="smtp_sla_test"))


@pytest.fixture()
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    monkeypatch.delenv("SMARKETING_SLA_ALERTS", raising=False)
    with smtp_sink(monkeypatch, "smtp_sla_test") as handler:
        yield handler


@pytest.fixture()
def breached(clean_warehouse: str) -> str:
    """Three MQLs handed over Monday 10:00, none touched: owners crm:1 (own address), crm:2 (team), none."""
    seed(
        clean_warehouse,
        owners=[("crm:1", "crm:9", None), ("crm:2", "crm:9", None), ("crm:9", None, None)],
        leads=[
            {"lead_id": 11, "owner_id": "crm:1"},
            {"lead_id": 12, "owner_id": "crm:1"},
            {"lead_id": 21, "owner_id": "crm:2"},
            {"lead_id": 31},
        ],
        stages=[(i, MQL, MONDAY_10) for i in (11, 12, 21, 31)],
    )
    return clean_warehouse


def body(message: Message) -> str:
    parts = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return parts[0].get_payload(decode=True).decode()


def test_two_runs_over_the_same_breaches_send_one_alert_each(breached: str, sink: Sink) -> None:
    evaluate_followups(breached, ALERTING, paris("2026-11-23 15:00"))
    first = send_alerts(breached, ALERTING, paris("2026-11-23 15:00"), run_id="run-1")
    evaluate_followups(breached, ALERTING, paris("2026-11-23 15:30"))
    second = send_alerts(breached, ALERTING, paris("2026-11-23 15:30"), run_id="run-2")

    assert first["breaches"]["messages"] == 3 and first["breaches"]["rows"] == 4
    assert second["breaches"]["messages"] == 0
    assert len(sink.messages) == 3
    alice = sink.to("alice@northwind.example")
    assert len(alice) == 1
    text = body(alice[0])
    assert "11" in text and "12" in text and "Mon 23 Nov 2026 14:00 CET" in text
    assert "@" not in text
    team = sink.to("sales-team@northwind.example")
    assert len(team) == 2  # crm:2 has no address of its own; the unassigned lead goes to the team too
    assert all("@" not in body(m) for m in team)
    assert len({m["Message-ID"] for _, m in sink.messages}) == 3

    with psycopg.connect(breached) as conn:
        unannounced = conn.execute("SELECT count(*) FROM sla.breaches WHERE alerted_at IS NULL").fetchone()[0]
        dump = conn.execute("SELECT string_agg(a::text, ' ') FROM sla.alerts a").fetchone()[0]
        routes = conn.execute("SELECT owner_id, route FROM sla.alerts ORDER BY owner_id").fetchall()
    assert unannounced == 0
    assert not any(address in dump for address in ADDRESSES)
    assert routes == [("crm:1", "owner"), ("crm:2", "team"), (None, "team")]


def test_escalation_fires_once_after_the_further_delay(breached: str, sink: Sink) -> None:
    evaluate_followups(breached, ALERTING, paris("2026-11-23 15:00"))
    send_alerts(breached, ALERTING, paris("2026-11-23 15:00"))
    early = send_alerts(breached, ALERTING, paris("2026-11-23 15:59"))
    assert early["escalations"]["messages"] == 0  # due 14:00 + 2 business hours = 16:00
    evaluate_followups(breached, ALERTING, paris("2026-11-23 16:00"))
    first = send_alerts(breached, ALERTING, paris("2026-11-23 16:00"))
    again = send_alerts(breached, ALERTING, paris("2026-11-23 17:00"))
    # crm:1 and crm:2 report to crm:9 (no own address: the team), the unassigned lead has no manager.
    assert first["escalations"] == {"messages": 2, "rows": 4, "failed": [], "unroutable": []}
    assert again["escalations"]["messages"] == 0
    escalations = [m for _, m in sink.messages if m["Subject"].startswith("SLA escalation")]
    assert len(escalations) == 2
    assert "crm:1" in body(escalations[0]) + body(escalations[1])


def test_a_breach_touched_before_its_escalation_is_not_escalated(breached: str, sink: Sink) -> None:
    evaluate_followups(breached, ALERTING, paris("2026-11-23 15:00"))
    send_alerts(breached, ALERTING, paris("2026-11-23 15:00"))
    seed(breached, touches=[(11, "call", paris("2026-11-23 15:30"))])
    evaluate_followups(breached, ALERTING, paris("2026-11-23 16:00"))
    send_alerts(breached, ALERTING, paris("2026-11-23 16:00"))
    with psycopg.connect(breached) as conn:
        escalated = conn.execute(
            "SELECT lead_id FROM sla.breaches WHERE escalated_at IS NOT NULL AND kind = 'first_touch' ORDER BY 1"
        ).fetchall()
    assert escalated == [(12,), (21,), (31,)]  # the unassigned lead escalates to the team


def test_a_failed_send_marks_nothing_and_the_retry_sends_it(breached: str, sink: Sink) -> None:
    evaluate_followups(breached, ALERTING, paris("2026-11-23 15:00"))
    sink.refuse = True
    with pytest.raises(AlertDeliveryError) as failure:
        send_alerts(breached, ALERTING, paris("2026-11-23 15:00"))
    assert "@" not in str(failure.value)
    with psycopg.connect(breached) as conn:
        assert (
            conn.execute("SELECT count(*) FROM sla.breaches WHERE alerted_at IS NOT NULL").fetchone()[0] == 0
        )
        assert conn.execute("SELECT count(*) FROM sla.alerts").fetchone()[0] == 0
    sink.refuse = False
    retried = send_alerts(breached, ALERTING, paris("2026-11-23 15:00"))
    assert retried["breaches"]["messages"] == 3
    assert len(sink.messages) == 3


def test_marketing_is_told_once_when_delivery_falls_behind(breached: str, sink: Sink) -> None:
    # Four MQLs by Monday 23 November against 40 a month: 14 of November's 19 business days are over.
    moment = paris("2026-11-23 18:00")
    rows = {
        r["segment"]: r for r in measure_delivery(breached, ALERTING, moment) if r["period"] == "2026-11-01"
    }
    assert rows["all"]["delivered"] == 4 and rows["all"]["status"] == "behind"
    first = send_alerts(breached, ALERTING, moment)
    measure_delivery(breached, ALERTING, moment + pd_hours(1))
    second = send_alerts(breached, ALERTING, moment + pd_hours(1))
    assert first["delivery"]["messages"] == 1 and second["delivery"]["messages"] == 0
    told = sink.to("marketing@northwind.example")
    assert len(told) == 1 and "2026-11/all" in told[0]["Subject"]
    assert "@" not in body(told[0])


def test_nothing_is_sent_without_recipients(breached: str, sink: Sink) -> None:
    bare = replace(ALERTING, alerts=replace(ALERTING.alerts, team_to=None, recipients={}, marketing_to=None))
    evaluate_followups(breached, bare, paris("2026-11-23 15:00"))
    assert send_alerts(breached, bare, paris("2026-11-23 15:00")) == {"configured": False}
    assert sink.messages == []


def pd_hours(n: int):
    import pandas as pd

    return pd.Timedelta(hours=n)


def test_a_backlog_of_breaches_is_one_bounded_message_listing_the_longest_overdue(
    clean_warehouse: str, sink: Sink
) -> None:
    """Issue 10.10: 48,000 breaches made a 5.6 MB e-mail. Twelve here, five listed, the rest counted."""
    seed(
        clean_warehouse,
        owners=[("crm:1", "crm:9", None), ("crm:9", None, None)],
        leads=[{"lead_id": 100 + i, "owner_id": "crm:1"} for i in range(12)],
        # Handed over an hour apart on Monday morning: lead 100 is the longest overdue, 111 the least.
        stages=[(100 + i, MQL, paris("2026-11-23 09:00") + pd_hours(i // 2)) for i in range(12)],
    )
    capped = replace(
        ALERTING,
        alerts=replace(
            ALERTING.alerts, max_listed=5, full_list_url="https://bi.example/sla?alert={alert_id}"
        ),
    )
    evaluate_followups(clean_warehouse, capped, paris("2026-11-24 17:00"))
    sent = send_alerts(clean_warehouse, capped, paris("2026-11-24 17:00"))

    assert sent["breaches"]["messages"] == 1 and sent["breaches"]["rows"] == 12
    (message,) = sink.to("alice@northwind.example")
    text = body(message)
    with psycopg.connect(clean_warehouse) as conn:
        (alert_id,) = conn.execute("SELECT alert_id FROM sla.alerts WHERE kind = 'breach'").fetchone()
        marked = conn.execute(
            "SELECT count(*) FROM sla.breaches WHERE alert_id = %s AND alerted_at IS NOT NULL", (alert_id,)
        ).fetchone()[0]
    assert marked == 12  # all announced, not only the listed ones
    assert text.count("<tr>") == 1 + 5  # header and the five longest overdue
    assert all(f"<td>{lead}</td>" in text for lead in range(100, 105))
    assert not any(f"<td>{lead}</td>" in text for lead in range(105, 112))
    assert "and 7 more" in text and "12 MQL deadline(s)" in message["Subject"]
    assert f"WHERE alert_id = {alert_id} ORDER BY due_at" in text
    assert f"https://bi.example/sla?alert={alert_id}" in text

    # Long past the escalation delay too: the same run escalates them to crm:9 (the team address).
    assert sent["escalations"]["messages"] == 1 and sent["escalations"]["rows"] == 12
    (escalation,) = [m for _, m in sink.messages if m["Subject"].startswith("SLA escalation")]
    text = body(escalation)
    assert text.count("<tr>") == 1 + 5 and "and 7 more" in text and "WHERE escalation_alert_id = " in text
