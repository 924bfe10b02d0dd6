"""The follow-up clock on hand-made MQLs (pure: no database)."""

from __future__ import annotations

from datetime import time

import pandas as pd
import pytest

from smarketing.sla.calendar import CalendarSpec
from smarketing.sla.clock import INPUT_COLUMNS, OUTPUT_COLUMNS, evaluate_clocks
from smarketing.sla.settings import SlaSettings, Tier

PARIS = "Europe/Paris"
SETTINGS = SlaSettings(
    calendar=CalendarSpec(PARIS, start=time(9), end=time(18), holiday_country="FR"),
    tiers=(
        Tier("hot", 60, min_score=90),
        Tier("leader", 120, personas=("it_leader",), min_grade="B"),
        Tier("weekend_desk", 30, business_clock=False, personas=("developer",)),
        Tier("standard", 240),
    ),
    at_risk_share=0.75,
    escalate_after_minutes=120,
    accept_within_minutes=18 * 60,
)


def paris(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=PARIS)


def mqls(*rows: dict) -> pd.DataFrame:
    defaults = dict.fromkeys(INPUT_COLUMNS)
    defaults.update(mql_source="crm", owner_id="crm:1")
    frame = pd.DataFrame([{**defaults, "lead_id": i + 1, **row} for i, row in enumerate(rows)])
    for column in (
        "mql_at",
        "owner_assigned_at",
        "first_touch_at",
        "accepted_at",
        "rejected_at",
        "unsubscribed_at",
    ):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def evaluate(frame: pd.DataFrame, as_of: str, settings: SlaSettings = SETTINGS) -> pd.DataFrame:
    out = evaluate_clocks(frame, settings, paris(as_of))
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    return out.set_index("lead_id")


def local(value: pd.Timestamp) -> str:
    return value.tz_convert(PARIS).isoformat()


MONDAY_10 = paris("2026-11-23 10:00")


def test_pending_at_risk_then_breached_open() -> None:
    frame = mqls({"mql_at": MONDAY_10})
    assert local(evaluate(frame, "2026-11-23 11:00").loc[1, "due_at"]) == "2026-11-23T14:00:00+01:00"
    assert evaluate(frame, "2026-11-23 11:00").loc[1, "status"] == "pending"
    assert evaluate(frame, "2026-11-23 13:00").loc[1, "status"] == "at_risk"
    late = evaluate(frame, "2026-11-23 15:00").loc[1]
    assert late["status"] == "breached_open"
    assert pd.isna(late["used_share"])  # only a touch fixes the share used
    assert local(late["escalate_at"]) == "2026-11-23T16:00:00+01:00"


def test_met_and_breached_late_with_business_minutes() -> None:
    frame = mqls(
        {"mql_at": MONDAY_10, "first_touch_at": paris("2026-11-23 12:00")},
        {"mql_at": paris("2026-11-20 17:00"), "first_touch_at": paris("2026-11-23 13:00")},  # Friday
    )
    out = evaluate(frame, "2026-11-24 09:00")
    assert list(out["status"]) == ["met", "breached_late"]
    assert list(out["business_minutes_to_touch"]) == [120, 300]
    assert list(out["used_share"]) == [0.5, 1.25]


def test_touch_after_the_evaluation_moment_is_ignored_in_a_replay() -> None:
    frame = mqls({"mql_at": MONDAY_10, "first_touch_at": paris("2026-11-23 16:00")})
    assert evaluate(frame, "2026-11-23 15:00").loc[1, "status"] == "breached_open"
    assert pd.isna(evaluate(frame, "2026-11-23 15:00").loc[1, "first_touch_at"])
    assert evaluate(frame, "2026-11-23 17:00").loc[1, "status"] == "breached_late"


def test_touch_before_the_mql_moment_does_not_count() -> None:
    frame = mqls({"mql_at": MONDAY_10, "first_touch_at": paris("2026-11-23 09:30")})
    row = evaluate(frame, "2026-11-23 15:00").loc[1]
    assert row["status"] == "breached_open"
    assert pd.isna(row["first_touch_at"])


@pytest.mark.parametrize(
    ("row", "stage", "reason"),
    [
        ({"rejected_at": paris("2026-11-23 11:00")}, "disqualified", "disqualified"),
        ({"rejected_at": paris("2026-11-23 11:00")}, "nurturing", "rejected"),
        ({"unsubscribed_at": paris("2026-11-23 11:00")}, None, "unsubscribed"),
    ],
)
def test_exclusion_before_due(row: dict, stage: str | None, reason: str) -> None:
    frame = mqls({"mql_at": MONDAY_10, "reject_stage": stage, **row})
    out = evaluate(frame, "2026-11-24 12:00").loc[1]
    assert (out["status"], out["excluded_reason"]) == ("excluded", reason)
    assert local(out["excluded_at"]) == "2026-11-23T11:00:00+01:00"


def test_exclusion_after_a_touch_or_after_due_does_not_exclude() -> None:
    frame = mqls(
        {
            "mql_at": MONDAY_10,
            "first_touch_at": paris("2026-11-23 10:30"),
            "rejected_at": paris("2026-11-23 11:00"),
            "reject_stage": "disqualified",
        },
        {"mql_at": MONDAY_10, "rejected_at": paris("2026-11-23 16:00"), "reject_stage": "disqualified"},
    )
    out = evaluate(frame, "2026-11-24 12:00")
    assert list(out["status"]) == ["met", "breached_open"]
    assert list(out["excluded_reason"].fillna("-")) == ["-", "disqualified"]
    assert out.loc[1, "decision"] == "rejected"


def test_unsubscribe_before_the_mql_moment_is_not_an_exclusion() -> None:
    frame = mqls({"mql_at": MONDAY_10, "unsubscribed_at": paris("2026-11-01 10:00")})
    assert evaluate(frame, "2026-11-23 12:00").loc[1, "status"] == "pending"


def test_each_tier() -> None:
    frame = mqls(
        {"mql_at": MONDAY_10, "score": 95.0, "persona_id": "it_leader", "grade": "A"},
        {"mql_at": MONDAY_10, "score": 70.0, "persona_id": "it_leader", "grade": "B"},
        {"mql_at": MONDAY_10, "score": 70.0, "persona_id": "it_leader", "grade": "C"},
        {"mql_at": paris("2026-11-21 23:50"), "score": 70.0, "persona_id": "developer"},  # Saturday night
        {"mql_at": MONDAY_10},  # not scored yet
    )
    out = evaluate(frame, "2026-11-23 10:00")
    assert list(out["tier"]) == ["hot", "leader", "standard", "weekend_desk", "standard"]
    assert [local(t) for t in out["due_at"]] == [
        "2026-11-23T11:00:00+01:00",
        "2026-11-23T12:00:00+01:00",
        "2026-11-23T14:00:00+01:00",
        "2026-11-22T00:20:00+01:00",  # the calendar clock runs through the night
        "2026-11-23T14:00:00+01:00",
    ]
    assert out.loc[4, "status"] == "breached_open"


def test_owner_time_zone_moves_the_deadline() -> None:
    frame = mqls(
        {"mql_at": paris("2026-11-23 16:00"), "owner_timezone": "America/New_York"},
        {"mql_at": paris("2026-11-23 16:00"), "owner_timezone": None},
    )
    out = evaluate(frame, "2026-11-23 16:00")
    # 16:00 in Paris is 10:00 in New York: four business hours later is 14:00 there, 20:00 in Paris.
    assert [local(t) for t in out["due_at"]] == ["2026-11-23T20:00:00+01:00", "2026-11-24T11:00:00+01:00"]
    off = SlaSettings(**{**SETTINGS.__dict__, "owner_time_zones": False})
    assert local(evaluate(frame, "2026-11-23 16:00", off).loc[1, "due_at"]) == "2026-11-24T11:00:00+01:00"


def test_routing_and_rep_delays_after_a_reassignment() -> None:
    frame = mqls(
        # Re-assigned at 11:00 (the CRM keeps the latest assignment), touched by the new owner at 12:30.
        {
            "mql_at": MONDAY_10,
            "owner_id": "crm:2",
            "owner_assigned_at": paris("2026-11-23 11:00"),
            "first_touch_at": paris("2026-11-23 12:30"),
        },
        # Assigned before the handover: no routing delay.
        {
            "mql_at": MONDAY_10,
            "owner_assigned_at": paris("2026-11-02 09:00"),
            "first_touch_at": paris("2026-11-23 11:00"),
        },
        # Touched before anyone owned it: all of it is routing.
        {"mql_at": MONDAY_10, "owner_id": None, "first_touch_at": paris("2026-11-23 11:00")},
    )
    out = evaluate(frame, "2026-11-23 17:00")
    assert list(out["routing_minutes"]) == [60, 0, 60]
    assert list(out["rep_minutes"].fillna(-1)) == [90, 60, -1]
    assert list(out["owner_id"].fillna("-")) == ["crm:2", "crm:1", "-"]
    assert local(out.loc[2, "assigned_at"]) == "2026-11-23T10:00:00+01:00"


def test_owner_assigned_after_the_replayed_moment_was_not_yet_the_owner() -> None:
    frame = mqls({"mql_at": MONDAY_10, "owner_id": "crm:2", "owner_assigned_at": paris("2026-11-23 15:00")})
    early = evaluate(frame, "2026-11-23 14:30").loc[1]
    assert pd.isna(early["owner_id"]) and pd.isna(early["assigned_at"])
    later = evaluate(frame, "2026-11-23 16:00").loc[1]
    assert later["owner_id"] == "crm:2" and later["routing_minutes"] == 300


def test_accept_clock() -> None:
    due_window = {"mql_at": MONDAY_10}  # 18 business hours: Wednesday 10:00
    frame = mqls(
        {**due_window, "accepted_at": paris("2026-11-24 15:00"), "accept_stage": "salesqualifiedlead"},
        {**due_window, "rejected_at": paris("2026-11-25 11:00"), "reject_stage": "nurturing"},
        {**due_window},
        {**due_window, "unsubscribed_at": paris("2026-11-24 10:00")},
        {**due_window, "accepted_at": paris("2026-11-25 09:00"), "accept_stage": "salesqualifiedlead"},
    )
    out = evaluate(frame, "2026-11-25 12:00")
    assert local(out.loc[1, "accept_due_at"]) == "2026-11-25T10:00:00+01:00"
    assert list(out["accept_status"]) == ["met", "breached_late", "breached_open", "excluded", "met"]
    assert list(out["decision"].fillna("-")) == ["accepted", "rejected", "-", "-", "accepted"]
    assert list(out["decision_stage"].fillna("-")) == [
        "salesqualifiedlead",
        "nurturing",
        "-",
        "-",
        "salesqualifiedlead",
    ]
    assert evaluate(frame, "2026-11-24 12:00").loc[3, "accept_status"] == "pending"
    assert local(out.loc[3, "accept_escalate_at"]) == "2026-11-25T12:00:00+01:00"


def test_optional_clocks_stay_empty_when_not_agreed() -> None:
    bare = SlaSettings(calendar=SETTINGS.calendar)
    out = evaluate(mqls({"mql_at": MONDAY_10}), "2026-11-25 12:00", bare).loc[1]
    assert pd.isna(out["accept_status"])
    assert pd.isna(out["accept_due_at"]) and pd.isna(out["escalate_at"])
    assert out["tier"] == "default" and out["status"] == "breached_open"
