"""Each KPI model on the hand-counted world of kpi_world.py (docstrings there say who does what when)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from smarketing.kpi.build import build_kpis
from smarketing.kpi.settings import KpiSettings
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

D = Decimal


@pytest.fixture()
def world(clean_warehouse: str) -> str:
    seed_world(clean_warehouse)
    build_kpis(clean_warehouse, kpi_settings(), as_of=AS_OF)
    return clean_warehouse


def test_funnel_counts_each_step_on_its_day_with_the_lead_dimensions(world: str) -> None:
    daily = rows(
        world,
        "SELECT day, channel, persona, country, industry, owner_id, team, new_leads, mqls, sqls, opportunities, "
        "won_deals, won_revenue, pipeline_created FROM kpi.funnel_daily ORDER BY day",
    )
    lead1 = ("paid_search", "it_leader", "FR", "software", "crm:o1", "EMEA")
    lead2 = ("email", "developer", "DE", "retail", "crm:o2", "DACH")
    lead3 = ("unknown", "finance", "FR", "software", "crm:o1", "EMEA")
    lead4 = ("unknown", "unknown", "DE", "retail", "crm:o2", "DACH")
    assert daily == [
        (date(2026, 1, 5), *lead1, 1, 0, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 1, 10), *lead1, 0, 1, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 1, 20), *lead2, 1, 0, 0, 0, 0, D("0.00"), D("0.00")),
        # lead 2 skipped the MQL stage: an SQL all the same
        (date(2026, 2, 1), *lead2, 0, 0, 1, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 2, 3), *lead3, 1, 0, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 2, 10), *lead3, 0, 1, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 2, 12), *lead3, 0, 0, 0, 1, 0, D("0.00"), D("300.00")),
        (date(2026, 2, 15), *lead4, 1, 0, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 2, 20), *lead4, 0, 0, 0, 1, 0, D("0.00"), D("500.00")),
        (date(2026, 2, 25), *lead4, 0, 0, 0, 0, 1, D("500.00"), D("0.00")),
        (date(2026, 3, 2), *lead1, 0, 0, 1, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 3, 5), *lead1, 0, 0, 0, 1, 0, D("0.00"), D("1000.00")),
        (date(2026, 4, 10), *lead1, 0, 0, 0, 0, 1, D("1000.00"), D("0.00")),
    ]
    monthly = rows(
        world,
        "SELECT month, sum(new_leads), sum(mqls), sum(sqls), sum(opportunities), sum(won_deals), sum(won_revenue), "
        "sum(pipeline_created) FROM kpi.funnel_monthly GROUP BY month ORDER BY month",
    )
    assert monthly == [
        (date(2026, 1, 1), 2, 1, 0, 0, 0, D("0.00"), D("0.00")),
        (date(2026, 2, 1), 2, 1, 1, 2, 1, D("500.00"), D("800.00")),
        (date(2026, 3, 1), 0, 0, 1, 1, 0, D("0.00"), D("1000.00")),
        (date(2026, 4, 1), 0, 0, 0, 0, 1, D("1000.00"), D("0.00")),
    ]  # May, the empty month: no rows, no failure


def test_cohorts_count_conversions_on_the_cohort_month(world: str) -> None:
    cohorts = rows(
        world,
        "SELECT cohort_kind, cohort_month, leads, mqls, sqls, won, won_revenue, mql_to_sql_rate, sql_to_won_rate, "
        "mql_to_won_rate, median_days_to_mql, median_days_to_sql, median_days_to_won, open_until, is_open "
        "FROM kpi.conversion_cohorts ORDER BY cohort_kind, cohort_month, persona",
    )
    assert cohorts == [
        # created in January: lead 2 (an SQL without MQL), lead 1 (won in April: counts for January)
        (
            "created_month",
            date(2026, 1, 1),
            1,
            0,
            1,
            0,
            D("0"),
            None,
            D("0.0000"),
            None,
            None,
            D("12.00"),
            None,
            date(2026, 7, 30),
            True,
        ),
        (
            "created_month",
            date(2026, 1, 1),
            1,
            1,
            1,
            1,
            D("1000.00"),
            D("1.0000"),
            D("1.0000"),
            D("1.0000"),
            D("5.04"),
            D("56.04"),
            D("95.04"),
            date(2026, 7, 30),
            True,
        ),
        (
            "created_month",
            date(2026, 2, 1),
            1,
            1,
            0,
            0,
            D("0"),
            D("0.0000"),
            None,
            D("0.0000"),
            D("7.00"),
            None,
            None,
            date(2026, 8, 27),
            True,
        ),
        (
            "created_month",
            date(2026, 2, 1),
            1,
            0,
            0,
            1,
            D("500.00"),
            None,
            None,
            None,
            None,
            None,
            D("10.00"),
            date(2026, 8, 27),
            True,
        ),
        (
            "mql_month",
            date(2026, 1, 1),
            1,
            1,
            1,
            1,
            D("1000.00"),
            D("1.0000"),
            D("1.0000"),
            D("1.0000"),
            None,
            D("51.00"),
            D("90.00"),
            date(2026, 7, 30),
            True,
        ),
        (
            "mql_month",
            date(2026, 2, 1),
            1,
            1,
            0,
            0,
            D("0"),
            D("0.0000"),
            None,
            D("0.0000"),
            None,
            None,
            None,
            date(2026, 8, 27),
            True,
        ),
    ]


def test_velocity_medians_and_lead_velocity_rate(world: str) -> None:
    velocity = rows(
        world,
        "SELECT month, mqls, prior_month_mqls, lead_velocity_rate, mql_to_sql, median_days_mql_to_sql, "
        "sql_to_opportunity, median_days_sql_to_opportunity, opportunity_to_customer, "
        "median_days_opportunity_to_customer FROM kpi.velocity_monthly WHERE channel = 'all' ORDER BY month",
    )
    assert velocity == [
        (date(2026, 1, 1), 1, 0, None, 0, None, 0, None, 0, None),
        (date(2026, 2, 1), 1, 1, D("0.0000"), 0, None, 0, None, 1, D("5.00")),
        (date(2026, 3, 1), 0, 1, D("-1.0000"), 1, D("51.00"), 1, D("3.00"), 0, None),
        (date(2026, 4, 1), 0, 0, None, 0, None, 0, None, 1, D("36.00")),
    ]


def test_velocity_has_no_month_that_has_not_begun(clean_warehouse: str) -> None:
    # The last MQL month is 2026-02; first built in mid-February, March (the falling-velocity month) is not
    # there yet. (On tables built later, a build as of February keeps the later months: test_kpi_idempotency.)
    seed_world(clean_warehouse)
    build_kpis(clean_warehouse, kpi_settings(), as_of="2026-02-15T00:00:00Z", full=True)
    months = rows(clean_warehouse, "SELECT DISTINCT month FROM kpi.velocity_monthly ORDER BY month")
    assert months and max(m for (m,) in months) <= date(2026, 2, 1)


def test_attribution_credits_sum_to_each_deal_and_unattributed_deals_count_whole(world: str) -> None:
    sums = rows(
        world,
        "SELECT model, sum(pipeline_amount), sum(opportunities), sum(won_amount), sum(won_deals) "
        "FROM kpi.attribution_monthly GROUP BY model ORDER BY model",
    )
    # pipeline: D1 1000 + D2 500 + D3 300; won: D1 1000 + D2 500 (whatever the model)
    assert sums == [
        (m, D("1800.00"), D("3.0000"), D("1500.00"), D("2.0000"))
        for m in ("first_touch", "last_touch", "linear", "w_shaped")
    ]
    march = {
        (model, channel, campaign): amount
        for model, channel, campaign, amount in rows(
            world,
            "SELECT model, channel, campaign_id, pipeline_amount FROM kpi.attribution_monthly "
            "WHERE month = '2026-03-01'",
        )
    }
    assert march == {
        ("first_touch", "web", "C1"): D("1000.00"),
        ("last_touch", "web_forms", "C2"): D("1000.00"),
        # six touches of 166.67; the last one keeps the rounding remainder (166.65)
        ("linear", "web", "C1"): D("166.67"),
        ("linear", "web_forms", "C2"): D("333.32"),
        ("linear", "email", "C3"): D("333.34"),
        ("linear", "events", "C4"): D("166.67"),
        # W: first (E1), creation (E2), MQL (E5), opportunity (E7) 22.5% each; E4 and E6 share 10%
        ("w_shaped", "web", "C1"): D("225.00"),
        ("w_shaped", "web_forms", "C2"): D("450.00"),
        ("w_shaped", "email", "C3"): D("275.00"),
        ("w_shaped", "events", "C4"): D("50.00"),
    }
    february = rows(
        world,
        "SELECT DISTINCT channel, campaign_id, pipeline_amount, won_amount FROM kpi.attribution_monthly "
        "WHERE month = '2026-02-01' ORDER BY channel",
    )
    assert february == [
        ("unattributed", "unattributed", D("500.00"), D("500.00")),
        ("web_forms", "C5", D("300.00"), D("0.00")),
    ]


def test_engagement_counts_and_rates_by_campaign_and_topic(world: str) -> None:
    january = rows(
        world,
        "SELECT campaign_id, content_topic, sends, opens, clicks, form_submissions, open_rate, "
        "click_to_open_rate FROM kpi.engagement_monthly WHERE month = '2026-01-01' ORDER BY campaign_id",
    )
    assert january == [
        ("C1", "pricing", 0, 0, 0, 0, None, None),
        ("C2", "pricing", 0, 0, 0, 1, None, None),
        ("C3", "security", 1, 1, 1, 0, D("1.0000"), D("1.0000")),
    ]
    assert rows(world, "SELECT count(*) FROM kpi.engagement_monthly WHERE month = '2026-05-01'") == [(0,)]


def _havana_world(dsn: str, *more_leads: dict) -> KpiSettings:
    """Lead 1, created at 00:30 the first time on 2026-11-01 in Havana (04:30 UTC) and an MQL ten minutes
    later, folded into core (with `more_leads`); returns the KPI settings on Havana's clock."""
    land(dsn, "owners", [{"id": "o1", "name": "Alice Martin", "team": "EMEA"}])
    land(
        dsn,
        "companies",
        [{"id": "c1", "name": "Acme SAS", "domain": "acme.example", "industry": "Software", "country": "FR"}],
    )
    land(
        dsn,
        "leads",
        [lead(1, "CTO", "FR", "c1", "o1", "2026-11-01T04:30:00Z", utm_medium="email"), *more_leads],
    )
    land(dsn, "lifecycle_history", [stage(1, "marketingqualifiedlead", "2026-11-01T04:40:00Z")])
    fold(dsn)
    return kpi_settings(calendar=replace(kpi_settings().calendar, timezone="America/Havana"))


def test_a_month_starts_at_the_first_local_midnight_where_the_clock_goes_back(clean_warehouse: str) -> None:
    # Havana leaves daylight saving time on Sunday 2026-11-01 at 01:00, back to 00:00: the hour after
    # midnight comes twice. A lead created at 00:30 the first time (04:30 UTC) and an MQL at 00:40 the
    # first time (04:40 UTC) are November's, as their local date says; the second 00:00 (05:00 UTC) is no
    # month's start.
    havana = _havana_world(clean_warehouse)
    build_kpis(clean_warehouse, havana, as_of="2026-11-15T00:00:00Z")

    assert rows(
        clean_warehouse, "SELECT cohort_kind, cohort_month, leads FROM kpi.conversion_cohorts ORDER BY 1"
    ) == [
        ("created_month", date(2026, 11, 1), 1),
        ("mql_month", date(2026, 11, 1), 1),
    ]
    assert rows(
        clean_warehouse,
        "SELECT month, new_leads, mqls, lead_to_mql FROM kpi.velocity_monthly WHERE channel = 'all'",
    ) == [(date(2026, 11, 1), 1, 1, 1)]
    assert rows(clean_warehouse, "SELECT day, new_leads, mqls FROM kpi.funnel_daily") == [
        (date(2026, 11, 1), 1, 1)
    ]


def test_a_rewrite_of_the_month_before_leaves_the_first_local_hour_where_the_clock_goes_back(
    clean_warehouse: str,
) -> None:
    # Havana's clock goes back at 01:00 on 2026-11-01: a lead created at 00:30 the first time (04:30 UTC) is
    # November's. A late MQL in October rewrites October's cohorts alone: the rewrite neither moves the
    # November lead nor writes November's rows (it wrote a second one), and the tables equal a full rebuild.
    havana = _havana_world(
        clean_warehouse, lead(2, "CFO", "FR", "c1", "o1", "2026-10-10T12:00:00Z", utm_medium="email")
    )
    as_of = "2026-11-15T00:00:00Z"
    build_kpis(clean_warehouse, havana, as_of=as_of)
    land(clean_warehouse, "lifecycle_history", [stage(2, "marketingqualifiedlead", "2026-10-20T12:00:00Z")])
    fold(clean_warehouse)
    summary = build_kpis(clean_warehouse, havana, as_of=as_of)["tables"]
    assert summary["conversion_cohorts"]["ranges"] == ["2026-10-01..2026-11-01"]
    velocity = "SELECT month, new_leads, mqls FROM kpi.velocity_monthly WHERE channel = 'all' ORDER BY 1"
    cohorts = "SELECT cohort_kind, cohort_month, leads FROM kpi.conversion_cohorts ORDER BY 1, 2"
    incremental = rows(clean_warehouse, velocity), rows(clean_warehouse, cohorts)
    assert incremental[0] == [(date(2026, 10, 1), 1, 1), (date(2026, 11, 1), 1, 1)]
    assert incremental[1] == [
        ("created_month", date(2026, 10, 1), 1),
        ("created_month", date(2026, 11, 1), 1),
        ("mql_month", date(2026, 10, 1), 1),
        ("mql_month", date(2026, 11, 1), 1),
    ]
    build_kpis(clean_warehouse, havana, as_of=as_of, full=True)
    assert (rows(clean_warehouse, velocity), rows(clean_warehouse, cohorts)) == incremental


def test_a_deal_opened_in_the_first_local_hour_where_the_clock_goes_back_keeps_its_credits(
    clean_warehouse: str,
) -> None:
    # Havana's clock goes back at 01:00 on 2026-11-01: deal D1, opened at 00:50 the first time (04:50 UTC)
    # after a touch at 00:45, is November's. A second deal of the lead rewrites November alone: D1 is
    # credited in it again (it was left out, and its kept credits dropped), as in a full rebuild.
    havana = _havana_world(clean_warehouse)
    land(clean_warehouse, "marketing_events", [event("E1", 1, "page_view", "2026-11-01T04:45:00Z", "C1")])
    land(clean_warehouse, "deals", [deal("D1", 1, "c1", 1000, "2026-11-01T04:50:00Z", None, None)])
    fold(clean_warehouse)
    as_of = "2026-11-15T00:00:00Z"
    build_kpis(clean_warehouse, havana, as_of=as_of)
    land(clean_warehouse, "deals", [deal("D2", 1, "c1", 500, "2026-11-10T12:00:00Z", None, None)])
    fold(clean_warehouse)
    summary = build_kpis(clean_warehouse, havana, as_of=as_of)["tables"]
    assert summary["attribution_monthly"]["ranges"] == ["2026-11-01..2026-12-01"]
    attribution = (
        "SELECT month, model, channel, campaign_id, opportunities, pipeline_amount FROM kpi.attribution_monthly "
        "ORDER BY 1, 2, 3, 4"
    )
    incremental = rows(clean_warehouse, attribution)
    assert [r for r in incremental if r[1] == "first_touch"] == [
        (date(2026, 11, 1), "first_touch", "web", "C1", D("2.0000"), D("1500.00"))
    ]
    build_kpis(clean_warehouse, havana, as_of=as_of, full=True)
    assert rows(clean_warehouse, attribution) == incremental


def test_a_cohort_closing_on_its_own_stages_the_first_local_hour_where_the_clock_goes_back(
    clean_warehouse: str,
) -> None:
    # Havana's clock goes back at 01:00 on 2026-11-01; lead 1 (created 00:30 the first time, 04:30 UTC, and
    # an MQL ten minutes later) is November's. November's cohorts close on 2027-05-29 (month end + 180
    # days): the build of June 1 rewrites them alone, and stages from November's first instant, not from the
    # second midnight (05:00 UTC), which left lead 1 out and its cohorts empty.
    havana = _havana_world(clean_warehouse)
    build_kpis(clean_warehouse, havana, as_of="2027-05-28T12:00:00Z")
    summary = build_kpis(clean_warehouse, havana, as_of="2027-06-01T00:00:00Z")["tables"]
    assert summary["conversion_cohorts"]["ranges"] == ["2026-11-01..2026-12-01"]
    cohorts = "SELECT cohort_kind, cohort_month, leads, mqls, is_open FROM kpi.conversion_cohorts ORDER BY 1"
    incremental = rows(clean_warehouse, cohorts)
    assert incremental == [
        ("created_month", date(2026, 11, 1), 1, 1, False),
        ("mql_month", date(2026, 11, 1), 1, 1, False),
    ]
    build_kpis(clean_warehouse, havana, as_of="2027-06-01T00:00:00Z", full=True)
    assert rows(clean_warehouse, cohorts) == incremental
