"""Rule semantics on small hand-computed cases: every fit operator, decay, windows, caps, floors,
frequency limits, negative signals, grades and the MQL rule."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.scoring.kernel import US_PER_DAY, EventArrays, counted, score_frame
from smarketing.scoring.model import (
    Engagement,
    EngagementRule,
    EventPredicate,
    FitRule,
    Profile,
    ScoringModel,
)

T = int(datetime(2026, 11, 16, 2, tzinfo=UTC).timestamp() * 1_000_000)
DAY = US_PER_DAY


def model(
    fit: list[FitRule] | None = None,
    rules: list[tuple[str, float, float | None, int | None]] | None = None,
    *,
    half_life: float | None = None,
    window: int | None = None,
    floor: float | None = None,
    predicates: list[EventPredicate] | None = None,
    min_score: float | None = 50,
    min_grade: str | None = "C",
) -> ScoringModel:
    predicates = predicates or [EventPredicate(name) for name, *_ in rules or []]
    engagement = Engagement(
        half_life_days=half_life,
        window_days=window,
        rules=tuple(
            EngagementRule(name, i, points, cap, per_day)
            for i, (name, points, cap, per_day) in enumerate(rules or [])
        ),
        floor=floor,
    )
    return ScoringModel(
        version="t",
        profiles=(Profile("default", tuple(fit or []), engagement),),
        predicates=tuple(predicates),
        grades=(("A", 40), ("B", 25), ("C", 10), ("D", 0)),
        mql_min_score=min_score,
        mql_min_grade=min_grade,
        lists={"free_email": frozenset({"gmail.com", "yahoo.fr"})},
    )


def leads(n: int = 1, **columns: list) -> pd.DataFrame:
    return pd.DataFrame({"lead_id": np.arange(1, n + 1), **columns})


def events(*items: tuple[int, float, int]) -> EventArrays:
    """(lead index, age in days before T, predicate bit) per event."""
    lead = np.array([i[0] for i in items], dtype=np.int64)
    t = np.array([T - round(i[1] * DAY) for i in items], dtype=np.int64)
    mask = np.array([1 << i[2] for i in items], dtype=np.int64)
    return EventArrays(lead, t, mask)


def one(m: ScoringModel, frame: pd.DataFrame, ev: EventArrays | None = None):
    return score_frame(m, frame, ev or EventArrays.empty(), T).profiles["default"]


# -- fit operators -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        (FitRule("r", "country", "equals", "FR", 5), ["FR", " fr ", "DE", None], [5, 5, 0, 0]),
        (FitRule("r", "employees", "equals", 50, 5), ["50", "0050", "50.0", "fifty"], [5, 5, 5, 0]),
        (FitRule("r", "consent_email", "equals", True, 3), ["true", "T", "0", None], [3, 3, 0, 0]),
        (
            FitRule("r", "persona_id", "in", ("ops_manager", "finance"), 12),
            ["Finance", "cto", "", None],
            [12, 0, 0, 0],
        ),
        # Text and numbers in one list: the number part is OR-ed into the text matches in place.
        (FitRule("r", "employees", "in", ("many", 50, 200), 6), ["0050", "Many", "199", None], [6, 6, 0, 0]),
        (
            FitRule("r", "email_domain", "in_list", "free_email", -10),
            ["GMail.com", "corp.io", None, "yahoo.fr"],
            [-10, 0, 0, -10],
        ),
        (
            FitRule("r", "job_title", "regex", r"(?i)\bstudent\b", -25),
            ["PhD Student", "students", None, "STUDENT"],
            [-25, 0, 0, -25],
        ),
        (
            FitRule("r", "job_title", "regex", r"Head", 4),
            ["head of IT", "Head of IT", None, "x"],
            [0, 4, 0, 0],
        ),
        (FitRule("r", "employees", "between", (50.0, 199.0), 8), ["50", "199", "200", "many"], [8, 8, 0, 0]),
        (FitRule("r", "job_title", "missing", True, -5), [None, "  ", "", "CTO"], [-5, -5, -5, 0]),
        (FitRule("r", "job_title", "missing", False, 2), [None, "  ", "", "CTO"], [0, 0, 0, 2]),
    ],
    ids=[
        "equals-text",
        "equals-number",
        "equals-bool",
        "in",
        "in-mixed",
        "in_list",
        "regex-i",
        "regex-case",
        "between",
        "missing",
        "present",
    ],
)
def test_fit_operators(rule: FitRule, values: list, expected: list[int]) -> None:
    frame = leads(len(values), **{rule.field: values})
    result = one(model([rule]), frame)
    assert result.fit.tolist() == expected


def test_fit_reads_attributes_by_short_name_and_unknown_columns_are_missing() -> None:
    rules = [
        FitRule("origin", "attributes.origin", "equals", "organic_search", 7),
        FitRule("nothing", "attributes.absent", "missing", True, 1),
    ]
    frame = leads(2, origin=["organic_search", "paid"])
    assert one(model(rules), frame).fit.tolist() == [8, 1]


def test_fit_points_add_up_and_may_be_negative_and_give_the_grade() -> None:
    rules = [
        FitRule("size", "employees", "between", (200.0, 5000.0), 15),
        FitRule("cto", "persona_id", "equals", "it_leader", 20),
        FitRule("free", "email_domain", "in_list", "free_email", -10),
        FitRule("industry", "industry", "equals", "Software", 10),
    ]
    frame = leads(
        4,
        employees=[300, 300, 10, None],
        persona_id=["it_leader", "it_leader", None, "it_leader"],
        email_domain=["corp.io", "gmail.com", "gmail.com", "x.io"],
        industry=["software", None, None, None],
    )
    result = one(model(rules), frame)
    assert result.fit.tolist() == [45, 25, -10, 20]
    assert result.grade.tolist() == ["A", "B", None, "C"]


# -- engagement ----------------------------------------------------------------------------------------
def test_points_decay_by_half_every_half_life() -> None:
    m = model(rules=[("form_submission", 10, None, None)], half_life=30)
    result = one(m, leads(1), events((0, 0, 0), (0, 30, 0), (0, 60, 0)))
    assert result.engagement.tolist() == [17.5]  # 10 + 5 + 2.5


def test_no_half_life_means_no_fading_and_future_events_do_not_count() -> None:
    m = model(rules=[("form_submission", 10, None, None)])
    result = one(m, leads(1), events((0, 400, 0), (0, -1, 0)))
    assert result.engagement.tolist() == [10.0]


def test_window_drops_events_older_than_it_inclusive_at_its_edge() -> None:
    m = model(rules=[("form_submission", 10, None, None)], window=90)
    result = one(m, leads(1), events((0, 90, 0), (0, 90.5, 0), (0, 10, 0)))
    assert result.engagement.tolist() == [20.0]


def test_cap_applies_to_the_decayed_sum() -> None:
    m = model(rules=[("form_submission", 15, 40, None)], half_life=30)
    # 15 * (1 + 1 + 1 + 0.5) = 52.5 -> capped at 40; three old ones: 15 * 0.5 * 3 = 22.5 stays
    result = one(
        m, leads(2), events((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 30, 0), (1, 30, 0), (1, 30, 0), (1, 30, 0))
    )
    assert result.engagement.tolist() == [40.0, 22.5]


def test_negative_signals_with_their_cap_and_the_floor() -> None:
    m = model(
        rules=[("demo_request", 60, None, None), ("bounce", -10, 20, None), ("unsubscribe", -30, None, None)],
        floor=-35,
    )
    ev = events((0, 1, 0), (0, 1, 1), (0, 2, 1), (0, 3, 1), (1, 1, 1), (1, 1, 2))
    result = one(m, leads(2), ev)
    assert result.capped.tolist() == [[60.0, -20.0, 0.0], [0.0, -10.0, -30.0]]
    assert result.engagement.tolist() == [40.0, -35.0]  # lead 2: -40 raised to the floor
    assert result.floor_lift.tolist() == [0.0, 5.0]


def test_max_per_day_counts_the_first_events_of_each_utc_day() -> None:
    m = model(rules=[("email_open", 1, None, 2)], half_life=1)
    day_start = T - T % DAY  # T is 02:00 UTC: the day starts two hours earlier
    times = [day_start - DAY + 3_600_000_000 * h for h in (1, 5, 9, 20)] + [day_start + 1, day_start + 2]
    ev = EventArrays(np.zeros(6, np.int64), np.array(times, np.int64), np.ones(6, np.int64))
    result = one(m, leads(1), ev)
    # yesterday: the 01:00 and 05:00 opens count; today: both count
    ages = [(T - t) / DAY for t in (times[0], times[1], times[4], times[5])]
    assert result.engagement[0] == pytest.approx(round(sum(2**-a for a in ages), 2))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 4 * 24 - 1), st.booleans()), min_size=1, max_size=120
    ),
    st.integers(1, 3),
)
def test_per_day_limit_keeps_the_earliest_events_of_each_lead_and_day(
    rows: list[tuple[int, int, bool]], limit: int
) -> None:
    """`counted` against a plain group-and-rank: crowded days, ties in time, events of other rules."""
    lead = np.array([r[0] for r in rows], np.int64)
    t = T + np.array([r[1] for r in rows], np.int64) * 3_600_000_000 // 2  # half-hour steps: ties
    mask = np.array([1 if r[2] else 2 for r in rows], np.int64)
    events_ = EventArrays(lead, t, mask)
    selected = np.flatnonzero(mask == 1)
    frame = pd.DataFrame({"lead": lead[selected], "day": t[selected] // DAY, "t": t[selected]})
    rank = frame.sort_values("t", kind="stable").groupby(["lead", "day"]).cumcount().sort_index()
    assert counted(events_, selected, limit).tolist() == (rank < limit).tolist()


def test_one_event_feeds_every_rule_whose_predicate_it_matches() -> None:
    predicates = [EventPredicate("page_view"), EventPredicate("page_view", content_topics=("pricing",))]
    m = model(rules=[("page_view", 1, None, None), ("pricing_page", 10, None, None)], predicates=predicates)
    mask = np.array([0b01, 0b11], dtype=np.int64)  # a plain page view, a pricing page view
    ev = EventArrays(np.zeros(2, np.int64), np.array([T - DAY, T - DAY]), mask)
    assert one(m, leads(1), ev).capped.tolist() == [[2.0, 10.0]]


# -- grades, MQL, profiles --------------------------------------------------------------------------------
def test_mql_needs_both_the_score_and_the_grade() -> None:
    rules = [FitRule("size", "employees", "between", (0.0, 1e9), 10)]
    m = model(rules, [("demo_request", 60, None, None)], min_score=60, min_grade="C")
    frame = leads(3, employees=[100, None, 100])
    result = one(m, frame, events((0, 0, 0), (1, 0, 0)))
    assert result.total.tolist() == [70.0, 60.0, 10.0]
    assert result.grade.tolist() == ["C", "D", "C"]
    assert result.is_mql.tolist() == [True, False, False]


def test_headline_profile_is_the_best_one() -> None:
    base = model(
        [FitRule("fr", "country", "equals", "FR", 10)], [("demo_request", 50, None, None)], min_score=55
    )
    product = Profile(
        "platform",
        (FitRule("size", "employees", "between", (100.0, 1e9), 30),),
        base.profiles[0].engagement,
    )
    m = ScoringModel(**{**base.__dict__, "profiles": (base.profiles[0], product)})
    frame = leads(3, country=["FR", "FR", "DE"], employees=[None, 500, None])
    scores = score_frame(m, frame, events((0, 0, 0), (1, 0, 0)), T)
    headline = scores.headline(m)
    assert headline["profile_id"].tolist() == ["default", "platform", "default"]
    assert headline["total"].tolist() == [60.0, 80.0, 0.0]
