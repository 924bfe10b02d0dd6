"""KPI models read from the SLA, scoring, nurture and quality tables, and the SMART goals, on hand-set rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from smarketing.kpi.build import build_kpis
from smarketing.kpi.settings import GoalSpec
from tests.integration.kpi_world import AS_OF, kpi_settings, rows, seed_world

pytestmark = pytest.mark.integration

D = Decimal


@pytest.fixture()
def world(clean_warehouse: str) -> str:
    seed_world(clean_warehouse)
    return clean_warehouse


def _lead_id(conn: psycopg.Connection, source_id: str) -> int:
    return conn.execute(
        "SELECT lead_id FROM core.lead_sources WHERE source_id = %s", (source_id,)
    ).fetchone()[0]


def _two_clocks(world: str) -> tuple[int, int]:
    """Lead 1's clock (handed over 2026-01-10, met) and lead 3's (2026-02-10, late, two breaches); their ids."""
    with psycopg.connect(world) as conn:
        one, three = _lead_id(conn, "L1"), _lead_id(conn, "L3")
        conn.execute(
            """
            INSERT INTO sla.followups (lead_id, mql_at, mql_source, owner_id, tier, allowed_minutes, due_at,
                first_touch_at, status, business_minutes_to_touch, routing_minutes, rep_minutes, decision,
                accept_status, evaluated_at, input_hash)
            VALUES (%s, '2026-01-10T10:00Z', 'crm', 'crm:o1', 'standard', 240, '2026-01-10T14:00Z',
                    '2026-01-10T11:00Z', 'met', 60, 0, 60, 'accepted', 'met', '2026-06-01', 1),
                   (%s, '2026-02-10T10:00Z', 'crm', 'crm:o1', 'standard', 240, '2026-02-10T14:00Z',
                    '2026-02-10T15:00Z', 'breached_late', 300, 30, 270, NULL, 'breached_open', '2026-06-01', 2)
            """,
            (one, three),
        )
        conn.execute(
            "INSERT INTO sla.breaches (lead_id, kind, owner_id, due_at, detected_at, escalated_at) VALUES "
            "(%s, 'first_touch', 'crm:o1', '2026-02-10T14:00Z', '2026-02-10T15:00Z', '2026-02-10T16:00Z'), "
            "(%s, 'accept', 'crm:o1', '2026-02-12T10:00Z', '2026-02-12T11:00Z', NULL)",
            (three, three),
        )
    return one, three


def test_sla_compliance_by_month_owner_team_and_tier(world: str) -> None:
    _two_clocks(world)
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(
        world,
        "SELECT month, owner_id, team, tier, handed_over, due, touched_on_time, touched_late, on_time_share, "
        "median_minutes_to_touch, median_routing_minutes, median_rep_minutes, first_touch_breaches, accept_breaches, "
        "escalations, accepted, accept_due, decided_on_time_share FROM kpi.sla_compliance_monthly ORDER BY month",
    ) == [
        (
            date(2026, 1, 1),
            "crm:o1",
            "EMEA",
            "standard",
            1,
            1,
            1,
            0,
            D("1.0000"),
            D("60.00"),
            D("0.00"),
            D("60.00"),
            0,
            0,
            0,
            1,
            1,
            D("1.0000"),
        ),
        (
            date(2026, 2, 1),
            "crm:o1",
            "EMEA",
            "standard",
            1,
            1,
            0,
            1,
            D("0.0000"),
            D("300.00"),
            D("30.00"),
            D("270.00"),
            1,
            1,
            1,
            0,
            1,
            D("0.0000"),
        ),
    ]


def test_sla_compliance_leaves_out_the_clocks_of_leads_deleted_by_the_build(world: str) -> None:
    # lead 3 deleted before the build's moment: its clock is out; lead 1 deleted after it: still counted
    one, three = _two_clocks(world)
    with psycopg.connect(world) as conn:
        conn.execute(
            "UPDATE core.leads SET deleted_at = CASE lead_id WHEN %s THEN timestamptz '2026-03-01T00:00Z' "
            "ELSE timestamptz '2026-07-01T00:00Z' END WHERE lead_id IN (%s, %s)",
            (three, one, three),
        )
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(world, "SELECT month, handed_over FROM kpi.sla_compliance_monthly ORDER BY month") == [
        (date(2026, 1, 1), 1)
    ]


def test_marketing_delivery_attainment(world: str) -> None:
    with psycopg.connect(world) as conn:
        conn.execute(
            "INSERT INTO sla.marketing_delivery (period, segment, period_end, target, delivered, accepted, "
            "elapsed_share, expected_to_date, forecast, status, evaluated_at) VALUES "
            "('2026-02-01', 'all', '2026-02-28', 4, 1, 1, 1, 4, 1, 'missed', '2026-03-01')"
        )
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(
        world,
        "SELECT month, segment, target, delivered, attainment, acceptance_rate, status "
        "FROM kpi.marketing_delivery_monthly",
    ) == [(date(2026, 2, 1), "all", 4, 1, D("0.2500"), D("1.0000"), "missed")]


def test_score_quality_auc_from_rank_sums(world: str) -> None:
    # five March crossings of model 2026.01: scores 90 and 80 reached SQL, 80, 70 and 60 did not.
    # ranks 60:1 70:2 80:3.5 80:3.5 90:5 -> R(SQL) = 8.5, U = 8.5 - 2*3/2 = 5.5, AUC = 5.5 / (2*3) = 0.9167
    with psycopg.connect(world) as conn:
        ids = []
        for i, (score, grade, sql) in enumerate(
            [(90, "A", True), (80, "A", True), (80, "B", False), (70, "B", False), (60, "C", False)]
        ):
            (lead,) = conn.execute(
                "INSERT INTO core.leads (source_system, source_id, created_at) VALUES ('crm', %s, '2026-03-01') "
                "RETURNING lead_id",
                (f"S{i}",),
            ).fetchone()
            ids.append(lead)
            conn.execute(
                "INSERT INTO scoring.mql_crossings (lead_id, model_version, crossed_at, total, grade, profile_id, "
                "run_id, is_first) VALUES (%s, '2026.01', '2026-03-10T10:00Z', %s, %s, 'default', 'r1', true)",
                (lead, score, grade),
            )
            if sql:
                conn.execute(
                    "INSERT INTO core.lifecycle_history (lead_id, stage, entered_at, source_system) "
                    "VALUES (%s, 'salesqualifiedlead', '2026-03-20T10:00Z', 'crm')",
                    (lead,),
                )
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    quality = rows(
        world,
        "SELECT slice_kind, slice, handed_over, reached_sql, sql_rate, auc_sql, auc_won FROM kpi.score_quality_monthly "
        "WHERE model_version = '2026.01' AND cohort_month = '2026-03-01' ORDER BY slice_kind, slice",
    )
    assert quality == [
        ("all", "all", 5, 2, D("0.4000"), D("0.9167"), None),  # nobody won: no AUC against winning
        ("grade", "A", 2, 2, D("1.0000"), None, None),
        ("grade", "B", 2, 0, D("0.0000"), None, None),
        ("grade", "C", 1, 0, D("0.0000"), None, None),
        ("score_band", "60-69", 1, 0, D("0.0000"), None, None),
        ("score_band", "70-79", 1, 0, D("0.0000"), None, None),
        ("score_band", "80-89", 2, 1, D("0.5000"), None, None),
        ("score_band", "90-99", 1, 1, D("1.0000"), None, None),
    ]


NURTURE_LEDGER = """
CREATE TABLE IF NOT EXISTS nurture.enrollments (
    enrollment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
    scenario_id text NOT NULL, cycle integer NOT NULL, arm text NOT NULL, state text NOT NULL,
    target_system text NOT NULL, target_kind text NOT NULL, target_id text NOT NULL, source_system text NOT NULL,
    matched text NOT NULL, run_id text NOT NULL, planned_at timestamptz NOT NULL, exited_at timestamptz,
    exit_reason text)
"""


def test_nurture_is_empty_without_the_ledger_then_counts_it(world: str) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('nurture.enrollments') IS NOT NULL").fetchone()[0]:
            # the ledger's migration is applied: take it away for a moment, as before it existed
            conn.execute("ALTER TABLE nurture.enrollments RENAME TO enrollments_aside")
        try:
            summary = build_kpis(world, kpi_settings(), as_of=AS_OF)
        finally:
            if conn.execute("SELECT to_regclass('nurture.enrollments_aside') IS NOT NULL").fetchone()[0]:
                conn.execute("ALTER TABLE nurture.enrollments_aside RENAME TO enrollments")
    assert summary["tables"]["nurture_monthly"]["skipped"] == "nurture.enrollments does not exist yet"
    assert rows(world, "SELECT count(*) FROM kpi.nurture_monthly") == [(0,)]
    with psycopg.connect(world) as conn:
        conn.execute(NURTURE_LEDGER)
        three = _lead_id(conn, "L3")
        two = _lead_id(conn, "L2")
        conn.execute(
            """
            INSERT INTO nurture.enrollments (lead_id, scenario_id, cycle, arm, state, target_system, target_kind,
                target_id, source_system, matched, run_id, planned_at, exited_at, exit_reason)
            VALUES (%(three)s, 'pricing-interest', 1, 'enrolled', 'exited', 'mautic', 'segment', '12', 'crm',
                    'pricing', 'r', '2026-02-04T10:00Z', '2026-02-10T10:00Z', 'became_mql'),
                   (%(two)s, 'pricing-interest', 1, 'held_out', 'held_out', 'mautic', 'segment', '12', 'crm',
                    'pricing', 'r', '2026-02-04T10:00Z', NULL, NULL),
                   (%(two)s, 'developer-integration', 1, 'enrolled', 'skipped', 'mautic', 'campaign', '7', 'crm',
                    'integration', 'r', '2026-02-04T10:00Z', NULL, NULL)
            """,
            {"three": three, "two": two},
        )
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(
        world,
        "SELECT month, scenario_id, arm, leads, exited, exits_by_reason, reached_mql, reached_sql "
        "FROM kpi.nurture_monthly ORDER BY arm",
    ) == [
        (date(2026, 2, 1), "pricing-interest", "enrolled", 1, 1, {"became_mql": 1}, 1, 0),
        (date(2026, 2, 1), "pricing-interest", "held_out", 1, 0, {}, 0, 0),
    ]


def test_data_quality_per_day_source_and_table(world: str) -> None:
    with psycopg.connect(world) as conn:
        conn.execute(
            "INSERT INTO dq.batch_verdicts (batch_id, table_name, source_system, verdict, row_count, run_id, decided_at) "
            "VALUES (1, 'raw.leads', 'crm', 'passed', 4, 'r', '2026-05-04T10:00Z'), "
            "(2, 'raw.leads', 'crm', 'rejected', 3, 'r', '2026-05-04T11:00Z')"
        )
        conn.execute(
            "INSERT INTO dq.quarantine (table_name, batch_id, record_no, source_system, source_id, failed_checks, "
            "payload, run_id, validation_run_id, quarantined_at, last_checked_run_id) VALUES "
            "('raw.leads', 1, 2, 'crm', 'x', '{email_well_formed}', '{}', 'r', 1, '2026-05-04T10:00Z', 'r')"
        )
    build_kpis(world, kpi_settings(), as_of=AS_OF)
    assert rows(
        world,
        "SELECT day, source_system, table_name, batches, batches_rejected, rows_checked, "
        "rows_quarantined FROM kpi.data_quality_daily WHERE day = '2026-05-04'",
    ) == [(date(2026, 5, 4), "crm", "raw.leads", 2, 1, 7, 1)]


def test_goal_crossing_a_month_boundary_is_prorated_by_business_days(world: str) -> None:
    # Mar 30 - Apr 17 2026 in France: Easter Monday (Apr 6) is a public holiday -> 14 business days.
    # D1 (1000) was won on Apr 10: 9 business days gone -> expected 2000 * 9/14, projected 1000 * 14/9.
    goal = GoalSpec("spring-won", "won_amount", "amount", True, 2000.0, date(2026, 3, 30), date(2026, 4, 17))
    rate = GoalSpec(
        "fr-mql-to-sql",
        "mql_to_sql_rate",
        "share",
        True,
        0.5,
        date(2026, 1, 1),
        date(2026, 3, 31),
        segment="country:FR",
    )
    build_kpis(world, kpi_settings(goals=(goal, rate)), as_of=AS_OF)
    progress = {
        day: rest
        for day, *rest in rows(
            world,
            "SELECT day, business_days_elapsed, business_days_total, actual_to_date, expected_to_date, projected, "
            "on_track FROM kpi.goals_progress WHERE goal_id = 'spring-won' ORDER BY day",
        )
    }
    assert len(progress) == 19
    assert progress[date(2026, 3, 31)] == [2, 14, D("0.0000"), D("285.7143"), D("0.0000"), False]
    assert progress[date(2026, 4, 3)][0] == progress[date(2026, 4, 6)][0] == 5  # the holiday adds nothing
    assert progress[date(2026, 4, 10)] == [9, 14, D("1000.0000"), D("1285.7143"), D("1555.5556"), False]
    assert progress[date(2026, 4, 17)] == [14, 14, D("1000.0000"), D("2000.0000"), D("1000.0000"), False]
    shares = rows(
        world,
        "SELECT day, actual_to_date, expected_to_date, on_track FROM kpi.goals_progress "
        "WHERE goal_id = 'fr-mql-to-sql' AND day IN ('2026-01-09', '2026-02-28', '2026-03-02') ORDER BY day",
    )
    # FR MQLs: lead 1 (Jan 10, SQL Mar 2) and lead 3 (Feb 10, never SQL)
    assert shares == [
        (date(2026, 1, 9), None, D("0.5000"), None),
        (date(2026, 2, 28), D("0.0000"), D("0.5000"), False),
        (date(2026, 3, 2), D("0.5000"), D("0.5000"), True),
    ]


def test_goals_follow_the_agreement(world: str) -> None:
    settings = kpi_settings()
    build_kpis(
        world,
        replace(
            settings,
            goals=(GoalSpec("g", "mql_count", "count", True, 2, date(2026, 1, 1), date(2026, 1, 31)),),
        ),
        as_of=AS_OF,
    )
    build_kpis(world, settings, as_of=AS_OF)  # the goal left the agreement: its rows go too
    assert rows(world, "SELECT count(*) FROM kpi.goals_progress") == [(0,)]
