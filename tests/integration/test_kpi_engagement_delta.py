"""kpi.engagement_monthly kept by difference (smarketing.kpi.engagement): a build adds the logged changes
to marketing events to their months, exactly once, and always equals a full count."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import psycopg
import pytest

from smarketing.kpi import engagement
from smarketing.kpi.build import build_kpis, table_checksums
from tests.integration.kpi_world import AS_OF, event, fold, kpi_settings, land, lead, rows, seed_world

pytestmark = pytest.mark.integration

ENGAGEMENT = "SELECT * FROM kpi.engagement_monthly ORDER BY month, campaign_id, content_topic"
LOGGED = "SELECT count(*) FROM ops.kpi_event_changes"


def engagement_checksum(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return table_checksums(conn)["engagement_monthly"]


def full_count(dsn: str, as_of: str) -> list[tuple]:
    """kpi.engagement_monthly as a full rebuild writes it (the table is left so)."""
    build_kpis(dsn, kpi_settings(), as_of=as_of, full=True)
    return rows(dsn, ENGAGEMENT)


@pytest.fixture()
def world(clean_warehouse: str) -> str:
    seed_world(clean_warehouse)
    build_kpis(clean_warehouse, kpi_settings(), as_of=AS_OF)
    return clean_warehouse


def test_a_rerun_of_the_same_refresh_adds_nothing_twice(world: str) -> None:
    # two more interactions in February (an existing row, C3/security, and a new campaign C7)
    land(
        world,
        "marketing_events",
        [
            event("E20", 3, "email_open", "2026-02-20T10:00:00Z", "C3", "Security"),
            event("E21", 2, "email_sent", "2026-02-21T10:00:00Z", "C7", "roi"),
        ],
    )
    fold(world)
    assert rows(world, LOGGED) == [(2,)]
    first = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert (first["ranges"], first["added"]) == ([], ["2026-02-01"])
    assert rows(world, LOGGED) == [(0,)]  # taken with the build that applied them
    after_first = rows(world, ENGAGEMENT)
    again = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert (again["ranges"], again["added"]) == ([], [])
    assert rows(world, ENGAGEMENT) == after_first
    assert full_count(world, AS_OF) == after_first
    assert rows(world, "SELECT opens, sends FROM kpi.engagement_monthly WHERE campaign_id = 'C7'") == [(0, 1)]


def test_a_corrected_event_counts_its_months_again(world: str) -> None:
    # E4 (an open of C3 on Jan 8) was a click of C4 on Mar 8: January loses a version, March gains one
    land(world, "marketing_events", [event("E4", 1, "email_click", "2026-03-08T12:00:00Z", "C4", "Security")])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert summary["ranges"] == ["2026-01-01..2026-02-01"]  # where a version left: counted again
    assert summary["added"] == ["2026-03-01"]
    assert rows(world, "SELECT sum(opens) FROM kpi.engagement_monthly WHERE month = '2026-01-01'") == [(0,)]
    incremental = rows(world, ENGAGEMENT)
    assert full_count(world, AS_OF) == incremental


def test_an_event_dated_after_the_build_waits_for_its_time(world: str) -> None:
    land(world, "marketing_events", [event("E22", 1, "email_open", "2026-06-10T10:00:00Z", "C3", "Security")])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert summary["added"] == [] and rows(world, LOGGED) == [(1,)]
    later = "2026-06-15T00:00:00Z"
    summary = build_kpis(world, kpi_settings(), as_of=later)["tables"]["engagement_monthly"]
    assert summary["added"] == ["2026-06-01"] and rows(world, LOGGED) == [(0,)]
    incremental = rows(world, ENGAGEMENT)
    assert full_count(world, later) == incremental


def test_the_events_of_a_deleted_lead_are_not_added(world: str) -> None:
    gone = {"archived": "true", "archived_at": "2026-05-15T00:00:00Z"}
    land(world, "leads", [lead(3, "CFO", "FR", "c1", "o1", "2026-02-03T10:00:00Z", **gone)])
    fold(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    land(world, "marketing_events", [event("E23", 3, "email_open", "2026-04-02T10:00:00Z", "C9", "roi")])
    fold(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(world, "SELECT count(*) FROM kpi.engagement_monthly WHERE campaign_id = 'C9'") == [(0,)]
    incremental = rows(world, ENGAGEMENT)
    assert full_count(world, AS_OF) == incremental


def test_a_change_committed_after_the_build_read_is_applied_by_the_next_one(world: str) -> None:
    with psycopg.connect(world) as writer:  # a fold still writing while the build runs
        writer.execute(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, campaign_id, "
            "content_topic, source_system) SELECT 'crm:E24', lead_id, 'email_open', '2026-03-03T10:00:00Z', "
            "'C3', 'Security', 'crm' FROM core.lead_sources WHERE source_id = 'L2'"
        )
        summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
        assert summary["added"] == []
        writer.commit()
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert summary["added"] == ["2026-03-01"]
    incremental = engagement_checksum(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert engagement_checksum(world) == incremental


def test_a_table_built_before_the_change_log_is_counted_whole_once(world: str) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute("DELETE FROM ops.kpi_event_tracking")  # as a warehouse upgraded to the change log
    land(world, "marketing_events", [event("E25", 2, "email_open", "2026-03-04T10:00:00Z", "C3", "Security")])
    fold(world)
    assert rows(world, LOGGED) == [(0,)]  # nothing was logged: the next build cannot add it
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert summary["mode"] == "full"
    assert rows(world, "SELECT count(*) FROM ops.kpi_event_tracking") == [(1,)]
    incremental = rows(world, ENGAGEMENT)
    assert full_count(world, AS_OF) == incremental


def test_an_event_landed_before_its_lead_counts_once_the_lead_arrives(world: str) -> None:
    # the event is held in raw until its contact lands (a later batch): core folds it then, from an old
    # batch no window of landed records names; the change log still sees it arrive
    land(world, "marketing_events", [event("E26", 5, "email_open", "2026-03-12T10:00:00Z", "C8", "roi")])
    fold(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(world, "SELECT count(*) FROM kpi.engagement_monthly WHERE campaign_id = 'C8'") == [(0,)]
    land(world, "leads", [lead(5, "CTO", "FR", "c1", "o1", "2026-03-01T10:00:00Z")])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)["tables"]["engagement_monthly"]
    assert summary["added"] == ["2026-03-01"]
    assert rows(world, "SELECT opens FROM kpi.engagement_monthly WHERE campaign_id = 'C8'") == [(1,)]
    incremental = rows(world, ENGAGEMENT)
    assert full_count(world, AS_OF) == incremental


def test_logging_starts_only_once_the_writers_older_than_it_have_ended(clean_warehouse: str) -> None:
    # a writer whose statement ran before the log was on logged nothing: the first build must not count
    # before it ends (it would miss the write if it committed later), so it waits, here in vain
    with psycopg.connect(clean_warehouse) as writer:
        writer.execute("SELECT txid_current()")  # a transaction holding a transaction id: a writer
        with (
            psycopg.connect(clean_warehouse, autocommit=True) as conn,
            pytest.raises(RuntimeError, match="keeps the KPI build from starting to track changes"),
        ):
            engagement.track_event_changes(conn, patience_s=0)
        # the row stays: a second try waits for the same writer, it does not take the row for a done wait
        with (
            psycopg.connect(clean_warehouse, autocommit=True) as conn,
            pytest.raises(RuntimeError, match="keeps the KPI build from starting to track changes"),
        ):
            engagement.track_event_changes(conn, patience_s=0)
    assert rows(clean_warehouse, "SELECT count(*) FROM ops.kpi_event_tracking") == [(1,)]
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        engagement.track_event_changes(conn, patience_s=0)  # the writer is gone: no wait


# An event's month is its local date's in the organisation's zone, where the clock changes too. Havana
# leaves daylight saving time on Sunday 2026-11-01 at 01:00, back to 00:00 (the hour after midnight comes
# twice: from 04:00 and from 05:00 UTC); Asuncion entered it on Sunday 2017-10-01 at 00:00, on to 01:00
# (no local midnight: October begins at 04:00 UTC). Per zone: the build's moment, a first event, then
# events (id, UTC time, local month) just before, in and after the month's first local hour.
AT_CLOCK_CHANGES = {
    "America/Havana": (
        "2026-11-15T00:00:00Z",
        ("E1", "2026-10-20T12:00:00Z"),
        [
            ("E2", "2026-11-01T03:59:00Z", date(2026, 10, 1)),  # 23:59 on Oct 31 (-04)
            ("E3", "2026-11-01T04:30:00Z", date(2026, 11, 1)),  # 00:30 the first time (-04)
            ("E4", "2026-11-01T05:30:00Z", date(2026, 11, 1)),  # 00:30 the second time (-05)
        ],
    ),
    "America/Asuncion": (
        "2017-10-15T00:00:00Z",
        ("E1", "2017-09-20T12:00:00Z"),
        [
            ("E2", "2017-10-01T03:59:00Z", date(2017, 9, 1)),  # 23:59 on Sep 30 (-04)
            ("E3", "2017-10-01T04:00:00Z", date(2017, 10, 1)),  # 01:00 on Oct 1 (-03)
            ("E4", "2017-10-01T04:30:00Z", date(2017, 10, 1)),
        ],
    ),
}


@pytest.mark.parametrize("zone", sorted(AT_CLOCK_CHANGES))
def test_an_event_counts_in_the_month_of_its_local_date_where_the_clock_changes(
    clean_warehouse: str, zone: str
) -> None:
    as_of, (first, first_at), events = AT_CLOCK_CHANGES[zone]
    settings = kpi_settings(calendar=replace(kpi_settings().calendar, timezone=zone))
    per_month = "SELECT month, sends, opens, clicks FROM kpi.engagement_monthly ORDER BY month"
    land(clean_warehouse, "owners", [{"id": "o1", "name": "Alice Martin", "team": "EMEA"}])
    land(
        clean_warehouse,
        "companies",
        [{"id": "c1", "name": "Acme SAS", "domain": "acme.example", "industry": "Software", "country": "FR"}],
    )
    land(clean_warehouse, "leads", [lead(1, "CTO", "FR", "c1", "o1", first_at)])
    land(clean_warehouse, "marketing_events", [event(first, 1, "email_sent", first_at, "C1", "roi")])
    fold(clean_warehouse)
    build_kpis(clean_warehouse, settings, as_of=as_of)

    # by difference: the three events taken from the log, each added to its local month
    land(
        clean_warehouse,
        "marketing_events",
        [event(e, 1, "email_sent", at, "C1", "roi") for e, at, _ in events],
    )
    fold(clean_warehouse)
    summary = build_kpis(clean_warehouse, settings, as_of=as_of)["tables"]["engagement_monthly"]
    before, month = events[0][2], events[1][2]
    assert summary["added"] == [str(before), str(month)]
    assert rows(clean_warehouse, per_month) == [(before, 2, 0, 0), (month, 2, 0, 0)]

    # counted again: an event of the month's first local hour corrected (a version left), the month
    # recounted from its first instant
    land(clean_warehouse, "marketing_events", [event("E3", 1, "email_click", events[1][1], "C1", "roi")])
    fold(clean_warehouse)
    summary = build_kpis(clean_warehouse, settings, as_of=as_of)["tables"]["engagement_monthly"]
    assert summary["ranges"] == [f"{month}..{date(month.year, month.month + 1, 1)}"]
    incremental = rows(clean_warehouse, per_month)
    assert incremental == [(before, 2, 0, 0), (month, 1, 0, 1)]

    # the full count
    build_kpis(clean_warehouse, settings, as_of=as_of, full=True)
    assert rows(clean_warehouse, per_month) == incremental
