"""kpi.engagement_monthly kept by difference (smarketing.kpi.engagement): a build adds the logged changes
to marketing events to their months, exactly once, and always equals a full count."""

from __future__ import annotations

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
