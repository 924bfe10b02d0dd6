"""scoring.contributions (PostgreSQL) and the kernel agree to the cent on the engagement and floor rows:
the same capped values, summed in rule order, rounded once, and the same cents apportioned to the same
rules — on engine states chosen to be hard (exact half cents, ties, caps, negative points, residues of
cancelled additions, a floor above zero for leads without state)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.scoring.history import half_lives
from smarketing.scoring.kernel import Scores, profile_scores
from smarketing.scoring.model import Engagement, EngagementRule, EventPredicate, Profile, ScoringModel
from smarketing.scoring.outputs import contribution_rows
from smarketing.scoring.runner import MAX_ID, MIN_ID, register_model
from smarketing.scoring.warehouse import Shard, read_state, to_us

pytestmark = pytest.mark.integration

T1 = datetime(2026, 11, 16, 2, tzinfo=UTC)
RULES = (
    EngagementRule("form", 0, 10.0, 25.0, None),
    EngagementRule("open", 1, 0.125, None, None),
    EngagementRule("page", 2, 0.005, 0.04, None),
    EngagementRule("bounce", 3, -0.125, 0.5, None),
    EngagementRule("unsubscribe", 4, -20.0, None, None),
    EngagementRule("webinar", 5, 0.375, None, None),
)


def make_model(half_life: float | None, floor: float | None) -> ScoringModel:
    return ScoringModel(
        version=f"rounding-{half_life}-{floor}",
        profiles=(Profile("default", (), Engagement(half_life, None, RULES, floor)),),
        predicates=tuple(EventPredicate(r.rule_id) for r in RULES),
        grades=(("A", 0),),
        mql_min_score=None,
        mql_min_grade=None,
    )


value = st.one_of(
    st.integers(-2400, 2400).map(lambda k: k / 800),  # eighths of a cent: exact halves, ties
    st.floats(-30, 30, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-12, -1e-12, 0.005, 0.015, 2.675, 25.0, -0.5]),
)
lead_state = st.dictionaries(st.integers(0, len(RULES) - 1), st.tuples(value, st.sampled_from([0, 0, 5, 30])))


def seed(dsn: str, model: ScoringModel, states: list[dict[int, tuple[float, int]]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE scoring.score_rows, scoring.rule_state, scoring.fit_contributions")
        register_model(conn, model)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO scoring.lead_scores (lead_id, fit, engagement, total, is_mql, profile_id, "
                "model_version, config_hash, as_of, scored_at, run_id, history_on) "
                "VALUES (%s, 0, 0, 0, false, 'default', %s, %s, %s, now(), 'r', %s)",
                [
                    (lead, model.version, model.config_hash, T1, date(2026, 11, 16))
                    for lead in range(1, len(states) + 1)
                ],
            )
            cur.executemany(
                "INSERT INTO scoring.rule_state (lead_id, rule_no, value, as_of) VALUES (%s, %s, %s, %s)",
                [
                    (lead, rule_no, v, T1 - timedelta(hours=hours))
                    for lead, state in enumerate(states, start=1)
                    for rule_no, (v, hours) in state.items()
                ],
            )


def kernel_rows(dsn: str, model: ScoringModel, n: int) -> dict:
    """The engagement and floor rows the engine computes from the state as a night reads it."""
    profile = model.profiles[0]
    with psycopg.connect(dsn) as conn:
        state = read_state(conn, Shard(0, MIN_ID, MAX_ID), to_us(T1), list(half_lives(model)))
    values = np.zeros((n, len(RULES)))
    values[state["lead_id"] - 1, state["rule_no"].astype(np.int64)] = state["value"]
    result = profile_scores(model, profile, np.zeros((n, 0), np.int32), values)
    scores = Scores(np.arange(1, n + 1), {"default": result}, np.zeros(n, np.int64))
    rows = contribution_rows(model, scores, ("engagement", "floor"))
    return {
        (int(r.lead_id), str(r.kind), str(r.rule_id)): Decimal(f"{r.points:.2f}") for r in rows.itertuples()
    } | {("engagement", lead): Decimal(f"{e:.2f}") for lead, e in enumerate(result.engagement, start=1)}


def view_rows(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT lead_id, kind, rule_id, points FROM scoring.contributions WHERE kind <> 'fit'"
        ).fetchall()
        # What the view says the engagement is: its rows added up (a lead without rows: 0).
        sums = conn.execute(
            "SELECT s.lead_id, COALESCE(sum(c.points), 0) FROM scoring.lead_scores s "
            "LEFT JOIN scoring.contributions c USING (lead_id) GROUP BY s.lead_id"
        ).fetchall()
    return {(lead, kind, rule): points for lead, kind, rule, points in rows} | {
        ("engagement", lead): total for lead, total in sums
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([None, 2.0]),
    st.sampled_from([None, -0.5, 0.3]),
    st.lists(lead_state, min_size=1, max_size=12),
)
def test_the_view_and_the_kernel_agree_to_the_cent(clean_warehouse: str, half_life, floor, states) -> None:
    model = make_model(half_life, floor)
    seed(clean_warehouse, model, states)
    assert view_rows(clean_warehouse) == kernel_rows(clean_warehouse, model, len(states))


def test_a_single_lead_reads_the_same_rows_as_the_whole_view(clean_warehouse: str) -> None:
    model = make_model(2.0, 0.3)
    seed(clean_warehouse, model, [{1: (0.125, 0), 5: (0.125, 5)}, {}, {3: (-3.0, 30), 0: (0.004, 0)}])
    with psycopg.connect(clean_warehouse) as conn:
        whole = conn.execute("SELECT * FROM scoring.contributions ORDER BY 1, 2, 3, 4").fetchall()
        each = [
            row
            for lead in (1, 2, 3)
            for row in conn.execute(
                "SELECT * FROM scoring.contributions WHERE lead_id = %s ORDER BY 1, 2, 3, 4", (lead,)
            ).fetchall()
        ]
    assert each == whole
    # Lead 2 has no state: the floor (above zero) is its only engagement row.
    assert [r for r in whole if r[0] == 2] == [(2, "default", "floor", "floor", Decimal("0.30"))]
