"""KPI builds are idempotent and incremental: reruns are byte-identical, late data reopens closed months,
an incremental build after late data equals a full rebuild, cohorts close with time; kpi_reader reads kpi.*
and nothing else; no KPI table holds a person's e-mail or name."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from psycopg import errors

from smarketing.kpi.build import build_kpis, table_checksums
from smarketing.kpi.models import MODEL_NAMES
from tests.integration.kpi_world import (
    AS_OF,
    deal,
    event,
    fold,
    kpi_settings,
    land,
    lead,
    rows,
    seed_world,
    stage,
)

pytestmark = pytest.mark.integration


def checksums(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return table_checksums(conn)


@pytest.fixture()
def world(clean_warehouse: str) -> str:
    seed_world(clean_warehouse)
    build_kpis(clean_warehouse, kpi_settings(), as_of=AS_OF)
    return clean_warehouse


def test_a_rerun_writes_identical_tables(world: str) -> None:
    first = checksums(world)
    assert rows(world, "SELECT count(*) FROM kpi.funnel_daily") != [(0,)]
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert summary["tables"]["funnel_daily"]["periods"] == 0  # nothing new: nothing rewritten
    assert checksums(world) == first
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == first


def test_late_data_reopens_a_closed_month_and_equals_a_full_rebuild(world: str) -> None:
    # Lead 2 turns out to have been an MQL on Jan 25; lead 3 had a touch on Feb 11 at 09:00 before its deal;
    # the webinar of Feb 15 (E6) was in fact on Jan 15 (a corrected version of the same record).
    land(world, "lifecycle_history", [stage(2, "marketingqualifiedlead", "2026-01-25T10:00:00Z")])
    land(
        world,
        "marketing_events",
        [
            event("E10", 3, "email_click", "2026-02-11T09:00:00Z", "C3", "Security"),
            event("E6", 1, "webinar_attended", "2026-01-15T16:00:00Z", "C4", "integration"),
        ],
    )
    # ... lead 4 moved to Spain and owner o1's team was renamed: every row of theirs moves
    land(world, "leads", [lead(4, None, "ES", "c2", "o2", "2026-02-15T10:00:00Z")])
    land(world, "owners", [{"id": "o1", "name": "Alice Martin", "team": "EMEA South"}])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(world, "SELECT DISTINCT country FROM kpi.funnel_daily WHERE persona = 'unknown'") == [("ES",)]
    assert rows(world, "SELECT DISTINCT team FROM kpi.funnel_daily WHERE owner_id = 'crm:o1'") == [
        ("EMEA South",)
    ]
    funnel = summary["tables"]["funnel_daily"]
    # the funnel's rows are days: the days of the facts moved, from January on, not whole months
    assert funnel["mode"] == "incremental" and funnel["ranges"][0].startswith("2026-01-")
    assert "2026-01-01..2026-02-01" not in funnel["ranges"]
    assert rows(world, "SELECT sum(mqls) FROM kpi.funnel_monthly WHERE month = '2026-01-01'") == [(2,)]
    assert rows(
        world, "SELECT sum(opens + clicks) FROM kpi.engagement_monthly WHERE month = '2026-02-01'"
    ) == [(1,)]
    assert rows(
        world, "SELECT count(*) FROM kpi.engagement_monthly WHERE month = '2026-01-01' AND campaign_id = 'C4'"
    ) == [(1,)]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def touch_lead_3(dsn: str, event_id: str, at: str) -> dict:
    """A late e-mail click of lead 3 landed and folded, then an incremental build: its summary."""
    land(dsn, "marketing_events", [event(event_id, 3, "email_click", at, "C3", "Security")])
    fold(dsn)
    return build_kpis(dsn, kpi_settings(), as_of=AS_OF)


def test_a_late_touch_after_a_deal_opened_leaves_the_deal_alone(world: str) -> None:
    # lead 3's deal D3 opened on Feb 12: a touch of April is not one of its touches, and a touch of
    # Feb 11 is (attribution rewrites February, and still equals a full rebuild)
    summary = touch_lead_3(world, "E11", "2026-04-20T09:00:00Z")
    assert summary["tables"]["attribution_monthly"]["ranges"] == []
    # a new event is added to its month's counts, the month is not counted again
    assert summary["tables"]["engagement_monthly"]["ranges"] == []
    assert summary["tables"]["engagement_monthly"]["added"] == ["2026-04-01"]
    summary = touch_lead_3(world, "E12", "2026-02-11T09:00:00Z")
    assert summary["tables"]["attribution_monthly"]["ranges"] == ["2026-02-01..2026-03-01"]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_a_first_mql_moment_moved_by_another_record_reopens_its_old_month(world: str) -> None:
    # Lead 1 was an MQL on Jan 10; another CRM record says it was one on Dec 20: core keeps the earliest,
    # so January loses its MQL and December gains it (January is named by no landed version: only the
    # first MQL moment before the build tells it)
    land(
        world,
        "lifecycle_history",
        [{**stage(1, "marketingqualifiedlead", "2025-12-20T10:00:00Z"), "id": "L1|again"}],
    )
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert summary["tables"]["funnel_monthly"]["ranges"] == ["2025-12-01..2026-02-01"]
    assert rows(
        world,
        "SELECT month, sum(mqls) FROM kpi.funnel_monthly WHERE month < '2026-02-01' GROUP BY 1 ORDER BY 1",
    ) == [
        (date(2025, 12, 1), 1),
        (date(2026, 1, 1), 0),
    ]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_a_later_mql_entry_or_an_open_deal_reopens_only_what_they_move(world: str) -> None:
    # Lead 3, an MQL since Feb 10, is handed over again on May 20 (its first MQL moment stays), and lead 1
    # gets a deal opened on May 3, still open (no cohort counts it: cohorts count wins)
    land(
        world,
        "lifecycle_history",
        [{**stage(3, "marketingqualifiedlead", "2026-05-20T10:00:00Z"), "id": "L3|again"}],
    )
    land(world, "deals", [deal("D4", 1, "c1", 700, "2026-05-03T10:00:00Z", None, None)])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    tables = summary["tables"]
    # the funnel rewrites the days of the two landed texts, two days each side (May 3 and May 20, less than
    # a month apart: one range)
    assert tables["funnel_daily"]["ranges"] == ["2026-05-01..2026-05-23"]
    assert tables["funnel_monthly"]["ranges"] == ["2026-05-01..2026-06-01"]
    assert tables["conversion_cohorts"]["ranges"] == []
    assert tables["score_quality_monthly"]["ranges"] == []
    # velocity: May's opportunity, lead 1's other stage and deal months (its opportunity and customer
    # moments could have moved), each with the month after (lead velocity rate)
    assert tables["velocity_monthly"]["ranges"] == ["2026-03-01..2026-07-01"]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_a_new_event_counts_in_its_month_in_the_organisation_zone(world: str) -> None:
    # 23:30 UTC on Jan 31 is 00:30 on Feb 1 in Paris: the event counts in February, not January
    land(world, "marketing_events", [event("E13", 2, "email_open", "2026-01-31T23:30:00Z", "C6", "roi")])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert summary["tables"]["engagement_monthly"]["added"] == ["2026-02-01"]
    assert rows(world, "SELECT month, opens FROM kpi.engagement_monthly WHERE campaign_id = 'C6'") == [
        (date(2026, 2, 1), 1)
    ]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_a_deleted_lead_leaves_the_engagement_counts(world: str) -> None:
    # lead 3's download of Feb 11 (E9) is the only interaction of campaign C5: once the lead is deleted
    # the row goes, the other campaigns' counts stay
    c5 = "SELECT month, downloads FROM kpi.engagement_monthly WHERE campaign_id = 'C5'"
    assert rows(world, c5) == [(date(2026, 2, 1), 1)]
    gone = {"archived": "true", "archived_at": "2026-05-15T00:00:00Z"}
    land(world, "leads", [lead(3, "CFO", "FR", "c1", "o1", "2026-02-03T10:00:00Z", **gone)])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert "2026-02-01..2026-03-01" in summary["tables"]["engagement_monthly"]["ranges"]
    assert rows(world, c5) == []
    assert rows(world, "SELECT sum(opens) FROM kpi.engagement_monthly WHERE month = '2026-01-01'") == [(1,)]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_cohorts_close_with_time_as_a_full_rebuild_would(world: str) -> None:
    assert rows(world, "SELECT bool_and(is_open) FROM kpi.conversion_cohorts") == [(True,)]
    later = "2026-08-01T00:00:00Z"  # January cohorts closed on Jul 30, February's still open
    summary = build_kpis(world, kpi_settings(), as_of=later)
    # December 2025 (empty) and January closed in between
    assert summary["tables"]["conversion_cohorts"]["ranges"] == ["2025-12-01..2026-02-01"]
    assert rows(
        world, "SELECT cohort_month, bool_and(is_open) FROM kpi.conversion_cohorts GROUP BY 1 ORDER BY 1"
    ) == [
        (date(2026, 1, 1), False),
        (date(2026, 2, 1), True),
    ]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=later, full=True)
    assert checksums(world) == incremental


def test_from_rewrites_every_month_since(world: str) -> None:
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF, from_day=date(2026, 3, 15))
    assert summary["tables"]["attribution_monthly"]["ranges"] == ["2026-03-01..2026-07-01"]


def kept_credits(dsn: str) -> dict[str, int]:
    """The transaction that last wrote each deal's kept credits (ops.kpi_deal_credits), by deal."""
    return dict(rows(dsn, "SELECT deal_id, xmin::text::bigint FROM ops.kpi_deal_credits"))


def assert_credit_sums_are_the_kept_credits(dsn: str) -> None:
    """ops.kpi_credit_sums is the sum of ops.kpi_deal_credits per month side and group, a row per group with
    credits (attribution_monthly reads its months from it)."""
    kept = (
        "SELECT m.month, m.opened, c.model, c.channel, c.campaign_id, count(*), sum(c.deal_credit), "
        "sum(c.amount_credit) FROM ops.kpi_deal_credits k "
        "CROSS JOIN LATERAL (VALUES (k.opened_month, true), (k.won_month, false)) AS m (month, opened) "
        "CROSS JOIN LATERAL unnest(k.models, k.channels, k.campaign_ids, k.amount_credits, k.deal_credits) "
        "AS c (model, channel, campaign_id, amount_credit, deal_credit) WHERE m.month IS NOT NULL "
        "GROUP BY 1, 2, 3, 4, 5"
    )
    sums = "SELECT month, opened, model, channel, campaign_id, credits, deal_credit, amount_credit FROM ops.kpi_credit_sums"
    assert rows(dsn, f"({kept}) EXCEPT ALL ({sums})") == []
    assert rows(dsn, f"({sums}) EXCEPT ALL ({kept})") == []


def test_kept_deal_credits_sum_to_each_deal_and_move_only_with_their_deal(world: str) -> None:
    # every kept deal sums to its amount, and to one deal, under every model
    assert (
        rows(
            world,
            "SELECT k.deal_id, c.model, sum(c.amount) = k.amount, sum(c.share) = 1 FROM ops.kpi_deal_credits k, "
            "unnest(k.models, k.amount_credits, k.deal_credits) AS c (model, amount, share) "
            "GROUP BY k.deal_id, k.amount, c.model HAVING NOT (sum(c.amount) = k.amount AND sum(c.share) = 1)",
        )
        == []
    )
    before = kept_credits(world)
    assert set(before) == {"crm:D1", "crm:D2", "crm:D3"}
    # a touch of lead 3 before its deal D3 opened (Feb 12): February is rewritten, D3 credited again, D2
    # (opened and won in February too, by lead 4) summed from what was kept
    summary = touch_lead_3(world, "E12", "2026-02-11T09:00:00Z")
    assert summary["tables"]["attribution_monthly"]["ranges"] == ["2026-02-01..2026-03-01"]
    after = kept_credits(world)
    assert after["crm:D3"] != before["crm:D3"]
    assert (after["crm:D1"], after["crm:D2"]) == (before["crm:D1"], before["crm:D2"])
    assert_credit_sums_are_the_kept_credits(world)
    # lost kept credits cost time only: the next build rewriting a month credits its deals again
    with psycopg.connect(world) as conn:
        conn.execute("TRUNCATE ops.kpi_deal_credits")
    touch_lead_3(world, "E13", "2026-02-11T10:00:00Z")
    assert {"crm:D2", "crm:D3"} <= set(kept_credits(world))
    assert_credit_sums_are_the_kept_credits(world)
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_a_changed_touch_credits_again_only_the_deals_opened_after_it(world: str) -> None:
    # lead 3 opens a second deal, D4, on Feb 20 (D3 opened on Feb 12); a touch of Feb 15 is one of D4's
    # touches, not of D3's: D4 is credited again, D3's kept credits are left as they were
    land(world, "deals", [deal("D4", 3, "c1", 200, "2026-02-20T10:00:00Z", None, None)])
    fold(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    before = kept_credits(world)
    summary = touch_lead_3(world, "E14", "2026-02-15T09:00:00Z")
    assert summary["tables"]["attribution_monthly"]["ranges"] == ["2026-02-01..2026-03-01"]
    after = kept_credits(world)
    assert after["crm:D4"] != before["crm:D4"]
    assert after["crm:D3"] == before["crm:D3"]
    # a time without an offset may have been read in another zone: the deals of two days before it too
    touch_lead_3(world, "E15", "2026-02-13T09:00:00")
    assert kept_credits(world)["crm:D3"] != after["crm:D3"]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def kept_stages(dsn: str) -> dict[int, int]:
    """The transaction that last wrote each lead's kept staged row (ops.kpi_lead_stages), by lead."""
    return dict(rows(dsn, "SELECT lead_id, xmin::text::bigint FROM ops.kpi_lead_stages"))


def lead_ids(dsn: str) -> dict[str, int]:
    return dict(rows(dsn, "SELECT source_id, lead_id FROM core.lead_sources"))


def test_a_lead_moving_cohort_is_staged_again_alone(world: str) -> None:
    # lead 3's creation corrected from Feb 3 to Jan 25 and its country to Spain: its creation cohort moves
    # from February to January (with every row of it); lead 2 becomes an MQL on Feb 2, in February's MQL
    # cohort and still January's creation cohort. Only these two leads are staged again.
    ids, before = lead_ids(world), kept_stages(world)
    land(world, "leads", [lead(3, "CFO", "ES", "c1", "o1", "2026-01-25T10:00:00Z")])
    land(world, "lifecycle_history", [stage(2, "marketingqualifiedlead", "2026-02-02T10:00:00Z")])
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert summary["tables"]["conversion_cohorts"]["ranges"] == ["2026-01-01..2026-03-01"]
    assert rows(
        world,
        "SELECT cohort_kind, cohort_month, sum(leads), sum(mqls) FROM kpi.conversion_cohorts "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    ) == [
        ("created_month", date(2026, 1, 1), 3, 3),
        ("created_month", date(2026, 2, 1), 1, 0),
        ("mql_month", date(2026, 1, 1), 1, 1),
        ("mql_month", date(2026, 2, 1), 2, 2),
    ]
    after = kept_stages(world)
    assert {i for i in after if after[i] != before.get(i)} == {ids["L2"], ids["L3"]}
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_late_data_in_closed_cohorts_equals_a_full_rebuild(world: str) -> None:
    # As of September, January's cohorts are closed (Jul 30). Late: lead 2 was an MQL on Jan 25, lead 4
    # clicked on Jan 30 (before its deal), lead 1 reached SQL on Feb 1 (a closed month's conversion).
    later = "2026-09-01T00:00:00Z"
    build_kpis(world, kpi_settings(), as_of=later)
    before = kept_stages(world)
    land(
        world,
        "lifecycle_history",
        [
            stage(2, "marketingqualifiedlead", "2026-01-25T10:00:00Z"),
            {**stage(1, "salesqualifiedlead", "2026-02-01T10:00:00Z"), "id": "L1|sql-again"},
        ],
    )
    land(
        world, "marketing_events", [event("E20", 4, "email_click", "2026-01-30T09:00:00Z", "C3", "Security")]
    )
    fold(world)
    summary = build_kpis(world, kpi_settings(), as_of=later)
    assert summary["tables"]["conversion_cohorts"]["ranges"][0].startswith("2026-01-01")
    assert rows(
        world,
        "SELECT sum(mqls), sum(sqls), bool_or(is_open) FROM kpi.conversion_cohorts "
        "WHERE cohort_kind = 'mql_month' AND cohort_month = '2026-01-01'",
    ) == [(2, 2, False)]
    ids, after = lead_ids(world), kept_stages(world)
    # the click moves lead 4's deal credits, not its staged row
    assert {i for i in after if after[i] != before.get(i)} == {ids["L1"], ids["L2"]}
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=later, full=True)
    assert checksums(world) == incremental


def test_a_lead_deleted_or_merged_into_another_leaves_every_table(world: str) -> None:
    # lead 4's record now carries lead 2's e-mail: core merges it into lead 2 and lead 4, every record of it
    # gone, is deleted without a record of its own landing; lead 3 is deleted in the CRM
    ids = lead_ids(world)
    merged = {**lead(4, None, "DE", "c2", "o2", "2026-02-15T10:00:00Z"), "email": "person2@customer2.example"}
    gone = {"archived": "true", "archived_at": "2026-05-15T00:00:00Z"}
    land(world, "leads", [merged, lead(3, "CFO", "FR", "c1", "o1", "2026-02-03T10:00:00Z", **gone)])
    fold(world)
    assert lead_ids(world)["L4"] == ids["L2"]
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert set(kept_stages(world)) == {ids["L1"], ids["L2"]}
    assert rows(world, "SELECT sum(new_leads) FROM kpi.funnel_monthly") == [(2,)]
    assert_credit_sums_are_the_kept_credits(world)
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF, full=True)
    assert checksums(world) == incremental


def test_kpi_reader_reads_every_kpi_table_and_nothing_else(world: str) -> None:
    with psycopg.connect(world) as conn:
        readable = {
            name
            for (name,) in conn.execute(
                """
                SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'v', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND has_schema_privilege('kpi_reader', n.oid, 'USAGE')
                  AND has_table_privilege('kpi_reader', c.oid, 'SELECT')
                """
            ).fetchall()
        }
        assert readable == {f"kpi.{name}" for name in MODEL_NAMES}
        conn.execute("SET ROLE kpi_reader")
        for name in MODEL_NAMES:
            conn.execute(f"SELECT * FROM kpi.{name} LIMIT 1").fetchall()
        for other in ("core.leads", "ops.kpi_state", "raw.leads", "scoring.lead_scores", "dq.quarantine"):
            with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT 1 FROM {other} LIMIT 1")


def kpi_text(dsn: str) -> str:
    """Every text-like value of every KPI table, one per line."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'kpi' "
            "AND data_type IN ('text', 'jsonb', 'character varying')"
        ).fetchall()
        values = []
        for table, column in columns:
            values += [
                str(v) for (v,) in conn.execute(f'SELECT DISTINCT "{column}"::text FROM kpi."{table}"')
            ]
    return "\n".join(values)


def personal_values(dsn: str) -> set[str]:
    """E-mail addresses and names of people (leads' names as sources keep them, owners') the warehouse holds."""
    found = rows(
        dsn,
        "SELECT email_normalized FROM core.leads WHERE email_normalized IS NOT NULL "
        "UNION SELECT name FROM core.owners WHERE name IS NOT NULL "
        "UNION SELECT record->'attributes'->>k FROM core.lead_sources, "
        "unnest(ARRAY['firstname', 'lastname', 'first_name', 'last_name']) AS k WHERE record->'attributes' ? k",
    )
    return {v for (v,) in found if v and len(v) > 3}


def assert_no_personal_data(dsn: str) -> None:
    text = kpi_text(dsn)
    assert text, "no KPI rows to scan"
    assert "@" not in text
    leaked = sorted(v for v in personal_values(dsn) if v.lower() in text.lower())
    assert leaked == []


def test_no_kpi_table_holds_an_email_or_a_name(world: str) -> None:
    assert personal_values(world) >= {"person1@customer1.example", "Alice Martin"}
    assert_no_personal_data(world)


def test_a_build_as_of_an_earlier_moment_never_rewinds_the_later_periods(world: str) -> None:
    """A backfill run, an old run cleared or a past `as_of` measures the periods before its moment's day;
    the later ones stay as the latest build measured them, and so does the tables' moment."""
    latest = checksums(world)
    after_march = "SELECT d::text FROM kpi.funnel_daily d WHERE day >= '2026-04-01' ORDER BY 1"
    before = rows(world, after_march)
    assert before, "the world has funnel days after March"
    # March, measured at its end (as the review measures a closed month): the months after stay.
    summary = build_kpis(world, kpi_settings(), as_of="2026-03-31T22:00:00Z", from_day=date(2026, 3, 1))
    assert summary["tables"]["funnel_monthly"]["ranges"][0].startswith("2026-03-01")
    assert summary["later_periods"] == {"from": "2026-04-01", "as_of": "2026-06-01T00:00:00+00:00"}
    assert rows(world, after_march) == before
    assert rows(world, "SELECT count(*) FROM ops.kpi_state WHERE as_of <> '2026-06-01T00:00:00Z'") == [(0,)]
    # Nothing of this world's March moved after its end, so every table is as it was.
    assert checksums(world) == latest
    # A day in the past with nothing rewritten before it (a backfill run of an old day): nothing moves.
    build_kpis(world, kpi_settings(), as_of="2026-05-10T02:00:00Z")
    assert checksums(world) == latest


def test_facts_stored_with_a_later_date_count_once_a_build_passes_them(world: str) -> None:
    """Facts landed with a date after the build's moment wait for it: a later build with nothing landed
    in between counts them in their periods, as a full rebuild does."""
    land(world, "leads", [lead(5, "CTO", "FR", "c1", "o1", "2026-06-05T10:00:00Z", utm_medium="email")])
    land(world, "lifecycle_history", [stage(2, "marketingqualifiedlead", "2026-06-10T10:00:00Z")])
    land(
        world, "marketing_events", [event("E30", 2, "email_click", "2026-06-08T09:00:00Z", "C3", "Security")]
    )
    land(world, "deals", [deal("D5", 2, "c2", 700, "2026-06-12T10:00:00Z", "2026-06-15T10:00:00Z", True)])
    fold(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)  # June 1: none of them yet
    assert rows(world, "SELECT count(*) FROM kpi.funnel_daily WHERE day >= '2026-06-01'") == [(0,)]
    later = "2026-06-20T00:00:00Z"
    build_kpis(world, kpi_settings(), as_of=later)  # nothing landed since: the moment passed them
    assert rows(
        world,
        "SELECT sum(new_leads), sum(mqls), sum(opportunities), sum(won_deals) FROM kpi.funnel_monthly "
        "WHERE month = '2026-06-01'",
    ) == [(1, 1, 1, 1)]
    incremental = checksums(world)
    build_kpis(world, kpi_settings(), as_of=later, full=True)
    assert checksums(world) == incremental
