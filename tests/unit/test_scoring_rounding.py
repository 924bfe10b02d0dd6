"""The engagement sum is rounded once (half to even), and each rule's shown points are its capped value in
cents apportioned by largest remainder so the explanation adds up to the rounded sum exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.scoring.kernel import (
    EventArrays,
    apportioned,
    capped_values,
    score_frame,
    summed_cents,
)
from smarketing.scoring.model import Engagement, EngagementRule, EventPredicate, Profile, ScoringModel

T = int(datetime(2026, 11, 16, 2, tzinfo=UTC).timestamp() * 1_000_000)


def scored(rules: list[tuple[float, float | None]], counts: list[int], floor: float | None = None):
    """One lead with `counts[r]` events of rule r today (no fading): rule r is worth points x count."""
    engagement = Engagement(
        None, None, tuple(EngagementRule(f"r{i}", i, p, cap, None) for i, (p, cap) in enumerate(rules)), floor
    )
    model = ScoringModel(
        version="t",
        profiles=(Profile("default", (), engagement),),
        predicates=tuple(EventPredicate(f"r{i}") for i in range(len(rules))),
        grades=(("A", 0),),
        mql_min_score=None,
        mql_min_grade=None,
    )
    bits = [i for i, c in enumerate(counts) for _ in range(c)]
    ev = EventArrays(np.zeros(len(bits), np.int64), np.full(len(bits), T - 1), np.int64(1) << np.array(bits))
    return score_frame(model, pd.DataFrame({"lead_id": [7]}), ev, T).profiles["default"]


def test_the_sum_is_rounded_once_not_each_rule() -> None:
    # Three rules at 0.004 each: per rule 0.00 + 0.00 + 0.00 = 0; once: round(0.012) = 0.01.
    result = scored([(0.004, None)] * 3, [1, 1, 1])
    assert result.engagement.tolist() == [0.01]
    # The cent goes to the first rule (equal remainders: rule order).
    assert result.capped.tolist() == [[0.01, 0.0, 0.0]]


def test_half_cents_round_half_to_even_and_ties_go_in_rule_order() -> None:
    # 0.125 + 0.125 = 0.25 exactly: each rule is 12.5 cents, both remainders .5: the first gets the cent.
    result = scored([(0.125, None), (0.125, None)], [1, 1])
    assert result.engagement.tolist() == [0.25]
    assert result.capped.tolist() == [[0.13, 0.12]]
    # 0.125 + 0.25 = 0.375 -> 0.38 (37.5 cents, half to even); the rule with the remainder gets it.
    result = scored([(0.125, None), (0.25, None)], [1, 1])
    assert result.engagement.tolist() == [0.38]
    assert result.capped.tolist() == [[0.13, 0.25]]
    # 0.125 alone: 12.5 cents rounds to 12 (even), as np.round does.
    assert scored([(0.125, None)], [1]).engagement.tolist() == [0.12]


def test_negative_points_apportion_like_positive_ones() -> None:
    # -0.125 + 0.25 = 0.125 -> 0.12: floors -13 and 25 cents; the sum needs 12: no cent added.
    result = scored([(-0.125, None), (0.25, None)], [1, 1])
    assert result.engagement.tolist() == [0.12]
    assert result.capped.tolist() == [[-0.13, 0.25]]
    # -0.004 x 3 = -0.012 -> -0.01; floors -1 cent each (-3), two cents back, to the first two rules.
    result = scored([(-0.004, None)] * 3, [1, 1, 1])
    assert result.engagement.tolist() == [-0.01]
    assert result.capped.tolist() == [[0.0, 0.0, -0.01]]


def test_a_binding_cap_counts_its_cap_and_the_floor_lifts_the_rounded_sum() -> None:
    # 0.333 x 4 = 1.332 capped at 1; -0.5 x 3 = -1.5 bounded at -1.25; 1 - 1.25 + 0.006 = -0.244 -> -0.24.
    result = scored([(0.333, 1.0), (-0.5, 1.25), (0.003, None)], [4, 3, 2])
    assert result.engagement.tolist() == [-0.24]
    assert result.capped.tolist() == [[1.0, -1.25, 0.01]]
    floored = scored([(0.333, 1.0), (-0.5, 1.25), (0.003, None)], [4, 3, 2], floor=0.1)
    assert floored.engagement.tolist() == [0.1]
    assert floored.floor_lift.tolist() == [0.34]
    assert floored.capped.tolist() == [[1.0, -1.25, 0.01]]


def test_many_rules_with_half_cent_remainders() -> None:
    # Nine rules of 0.005: the sum 0.045 is 4.5 cents (in float: 4.499999...), rounds to 4; the first
    # four rules in rule order get a cent each.
    result = scored([(0.005, None)] * 9, [1] * 9)
    cents = summed_cents(np.full((1, 9), 0.005))
    assert result.engagement.tolist() == [cents[0] / 100]
    shown = np.rint(result.capped[0] * 100).astype(int).tolist()
    assert sum(shown) == cents[0]
    assert shown == [1] * int(cents[0]) + [0] * (9 - int(cents[0]))


def test_residues_of_cancelled_additions_are_zero() -> None:
    values = np.array([[1e-12, 0.125, -1e-12]])
    rules = Engagement(None, None, tuple(EngagementRule(f"r{i}", i, 1.0, None, None) for i in range(3)), None)
    capped = capped_values(values, rules)
    assert capped.tolist() == [[0.0, 0.125, 0.0]]
    assert summed_cents(capped).tolist() == [12.0]


values = st.one_of(
    st.integers(-4000, 4000).map(lambda k: k / 800),  # eighths of a cent: exact halves and ties
    st.floats(-50, 50, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1e-12, -1e-12, 0.005, 0.015, 0.025, 2.675]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda k: st.lists(st.lists(values, min_size=k, max_size=k), min_size=1, max_size=20)
    )
)
def test_shown_points_add_up_to_the_rounded_sum_and_stay_within_a_cent(rows: list[list[float]]) -> None:
    capped = np.array(rows, dtype=float)
    cents = summed_cents(capped)
    shown = apportioned(capped, cents)
    whole = np.rint(shown * 100)
    assert np.array_equal(whole.sum(axis=1), cents)
    assert np.all(np.abs(shown - capped) < 0.01 + 1e-9)
    # Largest remainder: a rule got its cent only if no rule with a larger remainder went without.
    scaled = capped * 100
    remainder = scaled - np.floor(scaled)
    bumped = whole > np.floor(scaled)
    for row in range(len(rows)):
        if bumped[row].any() and (~bumped[row]).any():
            assert remainder[row][bumped[row]].min() >= remainder[row][~bumped[row]].max()
    # Rounded once: the sum in rule order, half to even.
    ordered = np.zeros(len(rows))
    for r in range(capped.shape[1]):
        ordered = ordered + capped[:, r]
    assert np.array_equal(cents, np.rint(ordered * 100))


def test_the_sum_adds_the_rules_in_rule_order() -> None:
    # numpy's pairwise sum over 8 or more columns adds in another order; the definition adds left to right
    # (as the view's sum ... ORDER BY rule_no): here the two orders give sums a cent apart once rounded.
    capped = np.array([[2.675, 0.035, 0.045, 0.1, 1.1, 0.7, 0.035, 0.035, 0.3, 0.015, 2.675]])
    assert np.rint(capped.sum(axis=1) * 100).tolist() == [771.0]  # numpy's pairwise sum: 7.714999...
    assert summed_cents(capped).tolist() == [772.0]  # left to right: 7.715 -> 7.72
