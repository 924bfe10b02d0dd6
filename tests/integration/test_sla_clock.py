"""The follow-up clock against a real warehouse: inputs read with as-of, set-based writes, breaches."""

from __future__ import annotations

import psycopg
import pytest

from smarketing.sla.run import evaluate_followups
from tests.integration.test_sla_seed import SETTINGS, paris, seed

pytestmark = pytest.mark.integration

MQL = "marketingqualifiedlead"
MONDAY_10 = paris("2026-11-23 10:00")  # standard tier due 14:00, hot tier due 11:00


def followups(dsn: str) -> dict[int, dict]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {r["lead_id"]: r for r in cur.execute("SELECT * FROM sla.followups ORDER BY lead_id")}


def breaches(dsn: str) -> list[dict]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM sla.breaches ORDER BY lead_id, kind").fetchall()


def add_touch(dsn: str, lead_id: int, at, kind: str = "call") -> None:
    seed(dsn, touches=[(lead_id, kind, at)])


@pytest.fixture()
def world(clean_warehouse: str) -> str:
    seed(
        clean_warehouse,
        owners=[("crm:1", "crm:9", None), ("crm:2", "crm:9", None), ("crm:9", None, None)],
        leads=[
            {"lead_id": 1, "owner_id": "crm:1"},  # touched on time
            {"lead_id": 2, "owner_id": "crm:1"},  # touched only before the MQL moment and with a note
            {"lead_id": 3, "owner_id": "crm:2"},  # disqualified before due
            {
                "lead_id": 4,
                "owner_id": "crm:2",
                "owner_assigned_at": paris("2026-11-23 11:00"),
            },  # touched late
            {"lead_id": 5, "owner_id": "crm:1"},  # recycled by sales
            {"lead_id": 6, "owner_id": "crm:1"},  # accepted as SQL
            {"lead_id": 7, "owner_id": "crm:1"},  # never an MQL
        ],
        stages=[
            *[(i, MQL, MONDAY_10) for i in range(1, 7)],
            (3, "disqualified", paris("2026-11-23 12:00")),
            (5, "nurturing", paris("2026-11-24 10:00")),
            (6, "salesqualifiedlead", paris("2026-11-24 11:00")),
        ],
        touches=[
            (1, "email", paris("2026-11-23 11:30")),
            (2, "call", paris("2026-11-23 09:00")),
            (2, "note", paris("2026-11-23 11:00")),
            (4, "call", paris("2026-11-23 16:00")),
            (5, "call", paris("2026-11-23 10:15")),
            (6, "meeting", paris("2026-11-23 13:00")),
            (7, "call", paris("2026-11-23 13:00")),
        ],
    )
    return clean_warehouse


def test_statuses_and_delays(world: str) -> None:
    summary = evaluate_followups(world, SETTINGS, paris("2026-11-25 12:00"))
    rows = followups(world)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]
    assert {k: r["status"] for k, r in rows.items()} == {
        1: "met",
        2: "breached_open",
        3: "excluded",
        4: "breached_late",
        5: "met",
        6: "met",
    }
    assert rows[3]["excluded_reason"] == "disqualified"
    assert rows[4]["routing_minutes"] == 60 and rows[4]["rep_minutes"] == 300
    assert rows[4]["business_minutes_to_touch"] == 360
    assert {k: r["accept_status"] for k, r in rows.items()} == {
        1: "breached_open",
        2: "breached_open",
        3: "met",
        4: "breached_open",
        5: "met",
        6: "met",
    }
    assert (rows[5]["decision"], rows[5]["decision_stage"]) == ("rejected", "nurturing")
    assert (rows[6]["decision"], rows[6]["decision_stage"]) == ("accepted", "salesqualifiedlead")
    assert rows[1]["evaluated_at"] == paris("2026-11-25 12:00")
    assert summary["status"] == {"breached_late": 1, "breached_open": 1, "excluded": 1, "met": 3}

    found = {(b["lead_id"], b["kind"]): b for b in breaches(world)}
    assert set(found) == {(2, "first_touch"), (4, "first_touch"), (1, "accept"), (2, "accept"), (4, "accept")}
    assert found[(2, "first_touch")]["resolved_at"] is None
    assert found[(4, "first_touch")]["resolution"] == "touched_late"
    assert found[(2, "first_touch")]["due_at"] == paris("2026-11-23 14:00")
    assert found[(2, "first_touch")]["escalate_at"] == paris("2026-11-23 16:00")

    with psycopg.connect(world) as conn:
        recycled = conn.execute(
            "SELECT lead_id, rejected_stage FROM sla.recycled_leads ORDER BY lead_id"
        ).fetchall()
    assert recycled == [(3, "disqualified"), (5, "nurturing")]


def test_rerunning_changes_nothing(world: str) -> None:
    moment = paris("2026-11-25 12:00")
    evaluate_followups(world, SETTINGS, moment)
    before = (followups(world), breaches(world))
    evaluate_followups(world, SETTINGS, moment)
    after = (followups(world), breaches(world))
    strip = lambda rows: {k: {c: v for c, v in r.items() if c != "updated_at"} for k, r in rows.items()}  # noqa: E731
    assert strip(before[0]) == strip(after[0])
    assert before[1] == after[1]


def test_a_touch_logged_late_moves_the_breach_to_breached_late(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-23 15:00"))
    assert followups(world)[2]["status"] == "breached_open"
    # The rep called at 16:30 on Monday but the CRM only synced it on Tuesday.
    add_touch(world, 2, paris("2026-11-23 16:30"))
    evaluate_followups(world, SETTINGS, paris("2026-11-24 10:00"))
    row = followups(world)[2]
    assert row["status"] == "breached_late"
    assert row["first_touch_at"] == paris("2026-11-23 16:30")
    breach = next(b for b in breaches(world) if b["lead_id"] == 2 and b["kind"] == "first_touch")
    assert (breach["resolution"], breach["resolved_at"]) == ("touched_late", paris("2026-11-23 16:30"))
    assert breach["detected_at"] == paris("2026-11-23 15:00")


def test_backdated_data_voids_a_breach(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-23 15:00"))
    add_touch(world, 2, paris("2026-11-23 13:00"))  # was on time after all
    evaluate_followups(world, SETTINGS, paris("2026-11-23 16:00"))
    assert followups(world)[2]["status"] == "met"
    breach = next(b for b in breaches(world) if b["lead_id"] == 2 and b["kind"] == "first_touch")
    assert breach["resolution"] == "corrected"


def test_replaying_the_past_reports_it_without_regressing_the_tables(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-25 12:00"))
    current = followups(world)
    past = evaluate_followups(world, SETTINGS, paris("2026-11-23 12:30"))
    # At 12:30 on Monday: 1 and 5 were touched, 3 disqualified, 2/4/6 still pending (1.5h of 4h used)
    # ... or at risk once 75 % is used.
    assert past["status"] == {"excluded": 1, "met": 2, "pending": 3}
    assert past["written"] == 0
    assert followups(world) == current


def test_reassignment_moves_an_open_breach_to_the_new_owner(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-23 15:00"))
    with psycopg.connect(world) as conn:
        conn.execute(
            "UPDATE core.leads SET owner_id = 'crm:2', owner_assigned_at = %s WHERE lead_id = 2",
            (paris("2026-11-23 15:30"),),
        )
    evaluate_followups(world, SETTINGS, paris("2026-11-23 16:00"))
    row = followups(world)[2]
    assert (row["owner_id"], row["assigned_at"]) == ("crm:2", paris("2026-11-23 15:30"))
    assert next(b for b in breaches(world) if b["lead_id"] == 2)["owner_id"] == "crm:2"


def test_closed_clocks_outside_the_window_are_not_reread(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-25 12:00"))
    later = paris("2027-01-25 12:00")
    summary = evaluate_followups(world, SETTINGS, later, reevaluate_days=30)
    # Only the clocks still running: 2 (never touched, accept open) and 1/4 (accept still open).
    assert summary["evaluated"] == 3
    assert followups(world)[1]["status"] == "met"


def test_scoring_crossings_and_scores_are_used_when_present(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    seed(
        dsn,
        owners=[("crm:1", None, None)],
        leads=[{"lead_id": i, "owner_id": "crm:1"} for i in (1, 2, 3)],
        stages=[(1, MQL, paris("2026-11-23 12:00")), (2, MQL, MONDAY_10), (3, MQL, MONDAY_10)],
    )
    score_row = "%s, 10, %s, %s, %s, 'hot', 'A', %s, 'default', '2026.11', 'h', %s, %s, 'r', '2026-11-23'"
    with psycopg.connect(dsn) as conn:
        # Lead 1 crossed at 10:00 with 95 points (hot); it has cooled down to 70 since.
        conn.execute(
            "INSERT INTO scoring.mql_crossings (lead_id, model_version, crossed_at, total, grade, profile_id,"
            " run_id, is_first) VALUES (1, '2026.11', %s, 95, 'A', 'default', 'r', true)",
            (MONDAY_10,),
        )
        for lead_id, total in ((1, 70), (2, 70), (3, 92)):
            conn.execute(
                "INSERT INTO scoring.lead_scores (lead_id, fit, engagement, total, grade, engagement_band,"
                " priority, is_mql, profile_id, model_version, config_hash, as_of, scored_at, run_id, history_on)"
                f" VALUES ({score_row})",
                (lead_id, total, total, "A", True, MONDAY_10, MONDAY_10),
            )
    evaluate_followups(dsn, SETTINGS, paris("2026-11-23 10:30"))
    rows = followups(dsn)
    assert (rows[1]["mql_source"], rows[1]["mql_at"], rows[1]["tier"]) == ("scoring", MONDAY_10, "hot")
    assert rows[1]["due_at"] == paris("2026-11-23 11:00")
    assert (rows[2]["mql_source"], rows[2]["tier"]) == ("crm", "standard")
    assert (rows[3]["mql_source"], rows[3]["tier"]) == ("crm", "hot")  # no crossing: the current score


def test_a_reading_is_written_only_when_it_says_something_new(world: str) -> None:
    evaluate_followups(world, SETTINGS, paris("2026-11-23 10:30"))
    # A quarter of an hour later nothing moved: the pending clocks read the same, lead 5 stays met.
    summary = evaluate_followups(world, SETTINGS, paris("2026-11-23 10:45"))
    assert (summary["evaluated"], summary["written"]) == (6, 0)
    assert {r["evaluated_at"] for r in followups(world).values()} == {paris("2026-11-23 10:30")}
    # At 13:00 three quarters of the time are used: lead 2 turns at risk, 1 and 3 have moved on.
    summary = evaluate_followups(world, SETTINGS, paris("2026-11-23 13:00"))
    rows = followups(world)
    assert summary["written"] == 5
    assert (rows[2]["status"], rows[2]["evaluated_at"]) == ("at_risk", paris("2026-11-23 13:00"))
    assert (rows[5]["status"], rows[5]["evaluated_at"]) == ("met", paris("2026-11-23 10:30"))
    # A change of the CRM data of a closed clock is picked up.
    with psycopg.connect(world) as conn:
        conn.execute("UPDATE core.leads SET owner_id = 'crm:2' WHERE lead_id = 5")
    assert evaluate_followups(world, SETTINGS, paris("2026-11-23 13:00"))["written"] == 1
    assert followups(world)[5]["owner_id"] == "crm:2"


def test_an_empty_warehouse_evaluates_to_nothing(clean_warehouse: str) -> None:
    summary = evaluate_followups(clean_warehouse, SETTINGS, paris("2026-11-23 12:00"))
    assert (summary["evaluated"], summary["written"], summary["status"]) == (0, 0, {})
