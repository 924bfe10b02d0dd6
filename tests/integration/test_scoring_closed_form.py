"""Scores stored in closed form (migration 0035): scoring.lead_scores shows every stored row at the
warehouse's reference time, and a night rewrites only the rows that would no longer show the exact score.
Each night here is compared with a recompute from the events (`scores_as_of`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from smarketing.scoring.closed import shown_cents
from smarketing.scoring.history import history_as_of
from smarketing.scoring.runner import run_scoring, scores_as_of
from smarketing.warehouse.copy import NULL_INT
from tests.integration.test_scoring_runs import (
    T0,
    _headline_rows,
    _rows,
    add_events,
    make_model,
    reset,
    stored_headline,
    unexplained_totals,
)

pytestmark = pytest.mark.integration


def row_versions(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT lead_id, xmin::text FROM scoring.score_rows").fetchall())


def rewritten(before: dict[int, str], after: dict[int, str]) -> set[int]:
    return {lead for lead, version in after.items() if before.get(lead) != version}


def night(dsn: str, model, run_id: str, when) -> dict:
    result = run_scoring(dsn, model, run_id=run_id, as_of=when, shard_count=2)
    assert stored_headline(dsn) == _headline_rows(scores_as_of(dsn, model, when))
    assert unexplained_totals(dsn) == []
    return result


def test_a_night_rewrites_the_rows_of_released_caps_and_leaves_the_faded_ones(clean_warehouse: str) -> None:
    """Lead 2's three form submissions bind the cap of 25 at T0 (30 points); two half-lives later they are
    worth 15: the cap released and its row is rewritten. Lead 4's opens only fade: its row stays and is
    shown faded. Lead 1 has a new event: rewritten."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(1.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(
            conn,
            _rows(
                [(2, "form_submission", -h, None) for h in (1, 2, 3)]
                + [(4, "email_open", -h, None) for h in (1, 30)]
                + [(1, "email_open", -3, None)],
                0,
                T0,
            ),
        )
    night(dsn, model, "a", T0)
    before = row_versions(dsn)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(1, "form_submission", 20, None)], 10, T0))
    result = night(dsn, model, "b", T0 + timedelta(days=2))
    assert rewritten(before, row_versions(dsn)) == {1, 2}
    assert sum(s["score_rows"] for s in result["shards"]) == 2
    with psycopg.connect(dsn) as conn:
        engagement = dict(conn.execute("SELECT lead_id, engagement FROM scoring.lead_scores").fetchall())
    assert float(engagement[2]) < 25  # no longer capped
    # A rerun of the night writes nothing more and shows the same.
    versions = row_versions(dsn)
    night(dsn, model, "b", T0 + timedelta(days=2))
    assert row_versions(dsn) == versions


def test_the_floor_and_a_capped_negative_rule_are_shown_exactly_night_after_night(
    clean_warehouse: str,
) -> None:
    """Unsubscribes (-20 each, bounded at -30) hold lead 3 at the floor of -10 until they fade above it;
    lead 5's bound releases as they fade. Every night shows the recompute, to the cent."""
    dsn = clean_warehouse
    reset(dsn)
    base = make_model(1.5, None, floor=-10.0)
    profile = base.profiles[0]
    rules = tuple(
        replace(rule, cap=30.0) if rule.rule_id == "unsubscribe" else rule
        for rule in profile.engagement.rules
    )
    model = replace(
        base,
        version="floor-and-negative",
        profiles=(replace(profile, engagement=replace(profile.engagement, rules=rules)),),
    )
    with psycopg.connect(dsn) as conn:
        add_events(
            conn,
            _rows(
                [(3, "unsubscribe", -1, None), (3, "email_open", -2, None)]
                + [(5, "unsubscribe", -h, None) for h in (1, 2)]
                + [(5, "form_submission", -h, None) for h in (1, 2, 3, 4)],
                0,
                T0,
            ),
        )
    night(dsn, model, "n0", T0)
    with psycopg.connect(dsn) as conn:
        floor_row = conn.execute("SELECT engagement FROM scoring.lead_scores WHERE lead_id = 3").fetchone()
    assert float(floor_row[0]) == -10.0
    for n in range(1, 6):
        night(dsn, model, f"n{n}", T0 + timedelta(hours=20 * n))


def test_an_upgraded_warehouse_shows_its_stored_rows_until_a_full_rescore(clean_warehouse: str) -> None:
    """Rows stored before migration 0035 carry no closed form and there is no reference time: the view
    shows them as stored, and the first run after the upgrade is a full rescore; the nights after it are
    incremental again."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(lead, "form_submission", -5, None) for lead in (1, 2, 3)], 0, T0))
    night(dsn, model, "a", T0)
    scores = stored_headline(dsn)
    with psycopg.connect(dsn) as conn:  # as the migration leaves them
        conn.execute(
            "UPDATE scoring.score_rows SET capped = 0, fading = 0, profile_no = 0, floor_cents = NULL"
        )
        conn.execute("DELETE FROM scoring.score_clock")
        conn.execute("UPDATE scoring.runs SET stats = stats #- '{summary,closed_form}'")
    assert stored_headline(dsn) == scores
    later = T0 + timedelta(days=1)
    assert night(dsn, model, "b", later)["mode"] == "full"
    assert night(dsn, model, "c", later + timedelta(days=1))["mode"] == "incremental"


def test_a_lead_whose_events_only_leave_the_window_gets_no_snapshot(clean_warehouse: str) -> None:
    """With a 3-day window, lead 2's old open leaves it on the second night: its state cell is rewritten
    but no history snapshot is written; the history still gives its score at every time."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    with psycopg.connect(dsn) as conn:
        add_events(
            conn,
            _rows(
                [(2, "email_open", -50, None), (2, "form_submission", -5, None), (4, "email_open", -1, None)],
                0,
                T0,
            ),
        )
    night(dsn, model, "a", T0)
    second = T0 + timedelta(days=2)
    result = night(dsn, model, "b", second)
    assert sum(s["history_rows"] for s in result["shards"]) == 0
    with psycopg.connect(dsn) as conn:  # the open's cell is gone, the submission's kept
        assert conn.execute("SELECT rule_no FROM scoring.rule_state WHERE lead_id = 2").fetchall() == [(0,)]
    with psycopg.connect(dsn) as conn:
        days = conn.execute("SELECT DISTINCT scored_on FROM scoring.score_history ORDER BY 1").fetchall()
    assert days == [(T0.date(),)]
    for when in (T0 + timedelta(hours=30), second, second + timedelta(days=1)):
        assert _headline_rows(history_as_of(dsn, model, when)) == _headline_rows(
            scores_as_of(dsn, model, when)
        )
    # A full rescore of the same night finds the same history.
    with psycopg.connect(dsn) as conn:
        history = conn.execute("SELECT * FROM scoring.score_history ORDER BY 1, 2, 3").fetchall()
    run_scoring(dsn, model, run_id="b", as_of=second, shard_count=3, full=True)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT * FROM scoring.score_history ORDER BY 1, 2, 3").fetchall() == history


def test_rows_written_through_the_view_are_stored_as_they_are(clean_warehouse: str) -> None:
    """Fixtures and hand corrections insert, update and delete scoring.lead_scores like a table."""
    dsn = clean_warehouse
    reset(dsn)
    columns = "lead_id, fit, engagement, total, is_mql, profile_id, model_version, config_hash, as_of, scored_at, run_id, history_on"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            f"INSERT INTO scoring.lead_scores ({columns}) VALUES (1, 10, 70, 70, true, 'default', 'v', 'h', %s, now(), 'r', %s)",
            (T0, T0.date()),
        )
        conn.execute("UPDATE scoring.lead_scores SET total = 71.5 WHERE lead_id = 1")
        assert conn.execute("SELECT fit, engagement, total FROM scoring.lead_scores").fetchall() == [
            (10, 70, 71.5)
        ]
        conn.execute("DELETE FROM scoring.lead_scores WHERE lead_id = 1")
        assert conn.execute("SELECT count(*) FROM scoring.score_rows").fetchone()[0] == 0


def test_the_views_closed_form_is_the_runs_to_the_bit(clean_warehouse: str) -> None:
    """scoring.closed_cents and `shown_cents` do the same float8 operations in the same order: the same cents
    on values made of half cents, ties, tiny factors and floors."""
    rng = np.random.default_rng(7)
    n = 4000
    capped = np.round(rng.uniform(-40, 60, n), 1) * rng.integers(0, 2, n)
    fading = np.concatenate([rng.uniform(-50, 80, n // 2), np.round(rng.uniform(0, 30, n // 2), 3) + 0.005])
    factor = np.concatenate([np.exp2(-rng.uniform(0, 40, n // 2)), np.full(n // 2, 1.0)])
    floor = np.where(rng.integers(0, 3, n) == 0, -1000, NULL_INT).astype(np.int64)
    expected = shown_cents(capped, fading, factor, floor)
    with psycopg.connect(clean_warehouse) as conn:
        got = conn.execute(
            "SELECT scoring.closed_cents(c, a, f, NULLIF(fl, %s)) FROM unnest(%s::float8[], %s::float8[], "
            "%s::float8[], %s::int8[]) WITH ORDINALITY AS t(c, a, f, fl, i) ORDER BY i",
            (int(NULL_INT), capped.tolist(), fading.tolist(), factor.tolist(), floor.tolist()),
        ).fetchall()
    assert np.array_equal(np.array([g[0] for g in got], dtype=np.float64), expected)
