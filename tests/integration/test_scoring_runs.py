"""Scoring runs against PostgreSQL: incremental nights equal full rescores, an as-of recompute equals the
history snapshot, rerunning a run changes nothing, and the outputs hold what the issue promises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.scoring.history import history_as_of
from smarketing.scoring.model import (
    Engagement,
    EngagementRule,
    EventPredicate,
    FieldTest,
    FitRule,
    Profile,
    ScoringModel,
)
from smarketing.scoring.runner import run_scoring, scores_as_of

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 10, 2, tzinfo=UTC)
OFF_THE_HOUR = timedelta(minutes=7)
N_LEADS = 5
TYPES = ("form_submission", "email_open", "page_view", "unsubscribe", "webinar_attended")
SCORE_COLUMNS = "lead_id, fit, engagement, total, grade, is_mql, profile_id"


def make_model(half_life: float | None, window: int | None, floor: float | None = None) -> ScoringModel:
    predicates = (
        EventPredicate("form_submission"),
        EventPredicate("email_open"),
        EventPredicate("page_view", content_topics=("pricing",)),
        EventPredicate("unsubscribe"),
    )
    rules = (
        EngagementRule("form_submission", 0, 10.0, 25.0, None),
        EngagementRule("email_open", 1, 1.0, 5.0, 2),
        EngagementRule("pricing_page", 2, 5.0, None, 1),
        EngagementRule("unsubscribe", 3, -20.0, None, None),
    )
    fit = (
        FitRule("france", "country", "equals", "FR", 10),
        # Compound and not_in rules: incremental nights must treat them like any rule.
        FitRule(
            "france_not_l2", "country", "equals", "FR", 4, (FieldTest("source_id", "not_in", ("l2", "l4")),)
        ),
        FitRule("other_sources", "source_id", "not_in", ("l1", "l3"), -3),
    )
    return ScoringModel(
        version=f"test-{half_life}-{window}",
        profiles=(Profile("default", fit, Engagement(half_life, window, rules, floor)),),
        predicates=predicates,
        grades=(("A", 10), ("B", 0)),
        mql_min_score=15,
        mql_min_grade="B",
    )


def reset(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname IN ('core', 'scoring') AND tablename NOT IN ('event_types', 'activity_types')"
        ).fetchall()
        conn.execute("TRUNCATE " + ", ".join(t for (t,) in tables) + " RESTART IDENTITY CASCADE")
        conn.execute(
            "INSERT INTO core.leads (lead_id, source_system, source_id, country, created_at) "
            "SELECT g, 't', 'l' || g, CASE WHEN g %% 2 = 0 THEN 'FR' ELSE 'DE' END, %s "
            "FROM generate_series(1, %s) g",
            (T0 - timedelta(days=60), N_LEADS),
        )


def add_events(conn: psycopg.Connection, events: list[tuple[str, int, str, datetime, str | None]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, content_topic, source_system) "
            "VALUES (%s, %s, %s, %s, %s, 't')",
            events,
        )


def snapshot(dsn: str) -> tuple[list, list]:
    with psycopg.connect(dsn) as conn:
        scores = conn.execute(f"SELECT {SCORE_COLUMNS} FROM scoring.lead_scores ORDER BY lead_id").fetchall()
        contributions = conn.execute("SELECT * FROM scoring.contributions ORDER BY 1, 2, 3, 4").fetchall()
    return scores, contributions


def stored_headline(dsn: str) -> list[tuple]:
    """scoring.lead_scores as `_headline_rows` gives a recompute."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {SCORE_COLUMNS} FROM scoring.lead_scores ORDER BY lead_id").fetchall()
    return [
        (lead, fit, float(e), float(t), grade, mql, profile) for lead, fit, e, t, grade, mql, profile in rows
    ]


def unexplained_totals(dsn: str) -> list:
    """Leads whose contributions (of their headline profile) do not add up to their total to the cent."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """
            SELECT s.lead_id, s.total, c.points FROM scoring.lead_scores s
            LEFT JOIN (SELECT lead_id, profile_id, sum(points) AS points FROM scoring.contributions
                       GROUP BY lead_id, profile_id) c ON c.lead_id = s.lead_id AND c.profile_id = s.profile_id
            WHERE COALESCE(c.points, 0) <> s.total
            """
        ).fetchall()


event_strategy = st.tuples(
    st.integers(1, N_LEADS),
    st.sampled_from(TYPES),
    st.integers(-6 * 24, 4 * 24),  # hours from T0
    st.sampled_from([None, "pricing", "security"]),
)


@st.composite
def histories(draw):
    model = make_model(
        draw(st.sampled_from([None, 2.0])),
        draw(st.sampled_from([None, 3])),
        draw(st.sampled_from([None, -10.0])),
    )
    first = draw(st.lists(event_strategy, max_size=25))
    gaps = draw(st.lists(st.sampled_from([6, 24, 30, 72]), min_size=1, max_size=3))
    nights = []
    for _ in gaps:
        nights.append(
            {
                "add": draw(st.lists(event_strategy, max_size=10)),
                "update": draw(st.lists(st.tuples(st.integers(0, 40), event_strategy), max_size=3)),
                "delete": draw(st.lists(st.integers(0, 40), max_size=3)),
            }
        )
    return model, first, gaps, nights


def _rows(items, start: int, when: datetime):
    return [
        (f"e{start + i}", lead, kind, when + timedelta(hours=hours), topic)
        for i, (lead, kind, hours, topic) in enumerate(items)
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories())
def test_incremental_nights_equal_a_full_rescore(clean_warehouse: str, case) -> None:
    model, first, gaps, nights = case
    dsn = clean_warehouse
    reset(dsn)
    # Events 7 minutes past the hour: with nights on the hour, no event is an exact number of half-lives
    # old, where a value faded night after night (a product of factors) and one faded at once can fall on
    # either side of a half cent (-20 x 2^-4.5 x 2^-0.5 = -0.6250000000000001, -20 x 2^-5 = -0.625).
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows(first, 0, T0 + OFF_THE_HOUR))
    run_scoring(dsn, model, run_id="night-0", as_of=T0, shard_count=2)
    as_of, counter = T0, 1000
    for n, (gap, night) in enumerate(zip(gaps, nights, strict=True), start=1):
        as_of = as_of + timedelta(hours=gap)
        with psycopg.connect(dsn) as conn:
            ids = [r[0] for r in conn.execute("SELECT event_id FROM core.marketing_events ORDER BY event_id")]
            # Late arrivals (before the last run), new events, corrections (time, type, topic, lead), removals.
            add_events(conn, _rows(night["add"], counter, as_of - timedelta(hours=gap) + OFF_THE_HOUR))
            counter += 100
            for index, (lead, kind, hours, topic) in night["update"]:
                if ids:
                    conn.execute(
                        "UPDATE core.marketing_events SET lead_id = %s, event_type = %s, occurred_at = %s, "
                        "content_topic = %s WHERE event_id = %s",
                        (
                            lead,
                            kind,
                            T0 + timedelta(hours=hours) + OFF_THE_HOUR,
                            topic,
                            ids[index % len(ids)],
                        ),
                    )
            for index in night["delete"]:
                if ids:
                    conn.execute(
                        "DELETE FROM core.marketing_events WHERE event_id = %s", (ids[index % len(ids)],)
                    )
        result = run_scoring(dsn, model, run_id=f"night-{n}", as_of=as_of, shard_count=2)
        assert result["mode"] == "incremental"
        # Engagement rows are faded at read time from cells the night did not rewrite: still exact.
        assert unexplained_totals(dsn) == []
        # Scores are shown in closed form from rows the night did not rewrite: exactly the recompute.
        assert stored_headline(dsn) == _headline_rows(scores_as_of(dsn, model, as_of))
    incremental = snapshot(dsn)
    run_scoring(dsn, model, run_id="check", as_of=as_of, full=True, shard_count=3)
    assert snapshot(dsn) == incremental


def _headline_rows(frame) -> list[tuple]:
    return [
        (
            int(r.lead_id),
            int(r.fit),
            round(float(r.engagement), 2),
            round(float(r.total), 2),
            r.grade if isinstance(r.grade, str) else None,  # pandas 3 strings hold a missing grade as NaN
            bool(r.is_mql),
            r.profile_id,
        )
        for r in frame.sort_values("lead_id").itertuples()
    ]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(event_strategy, max_size=30), st.integers(1, 4))
def test_as_of_recompute_equals_the_history_snapshot(clean_warehouse: str, events, day: int) -> None:
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(3.0, 5)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows(events, 0, T0))
    for night in range(5):
        run_scoring(dsn, model, run_id=f"n{night}", as_of=T0 + timedelta(days=night), shard_count=2)
    when = T0 + timedelta(days=day)
    # The history holds snapshots written only when a score moved other than by fading: the score on a
    # day is the latest snapshot faded to it.
    history = _headline_rows(history_as_of(dsn, model, when))
    expected = _headline_rows(scores_as_of(dsn, model, when))
    assert history == expected


def test_rerunning_a_run_changes_nothing(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    with psycopg.connect(dsn) as conn:
        add_events(
            conn,
            _rows(
                [
                    (2, "form_submission", -5, None),
                    (2, "email_open", -1, None),
                    (4, "form_submission", -30, None),
                ],
                0,
                T0,
            ),
        )
    run_scoring(dsn, model, run_id="a", as_of=T0, shard_count=2)
    run_scoring(dsn, model, run_id="b", as_of=T0 + timedelta(days=1), shard_count=2)

    def everything() -> dict[str, list]:
        with psycopg.connect(dsn) as conn:
            return {
                "scores": conn.execute(
                    f"SELECT {SCORE_COLUMNS}, as_of, history_on FROM scoring.lead_scores ORDER BY 1"
                ).fetchall(),
                "contributions": conn.execute(
                    "SELECT * FROM scoring.contributions ORDER BY 1, 2, 3, 4"
                ).fetchall(),
                "state": conn.execute("SELECT * FROM scoring.rule_state ORDER BY 1, 2").fetchall(),
                "history": conn.execute("SELECT * FROM scoring.score_history ORDER BY 1, 2, 3").fetchall(),
                "crossings": conn.execute("SELECT * FROM scoring.mql_crossings ORDER BY 1, 2").fetchall(),
                "lifecycle": conn.execute("SELECT * FROM core.lifecycle_history ORDER BY 1, 2, 3").fetchall(),
                "accounts": conn.execute("SELECT * FROM scoring.account_scores ORDER BY 1").fetchall(),
            }

    before = everything()
    run_scoring(dsn, model, run_id="b", as_of=T0 + timedelta(days=1), shard_count=2)
    assert everything() == before
    run_scoring(dsn, model, run_id="b", as_of=T0 + timedelta(days=1), shard_count=3, full=True)
    after_full = everything()
    assert after_full["scores"] == before["scores"]
    assert after_full["contributions"] == before["contributions"]
    assert after_full["history"] == before["history"]


def test_a_night_rewrites_only_the_rows_that_changed(clean_warehouse: str) -> None:
    """Fit rows of a lead whose field changed and state cells of a lead with a new event are rewritten;
    the other lead's rows stay as they were (same row versions) and are shown faded, equal to a rescore."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(2, "form_submission", -5, None), (4, "email_open", -1, None)], 0, T0))
    run_scoring(dsn, model, run_id="a", as_of=T0, shard_count=2)

    def versions(table: str) -> dict[int, set[str]]:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(f"SELECT lead_id, xmin::text FROM scoring.{table}").fetchall()
        return {lead: {x for other, x in rows if other == lead} for lead, _ in rows}

    fit_before, state_before = versions("fit_contributions"), versions("rule_state")
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE core.leads SET country = 'DE' WHERE lead_id = 2")
        add_events(conn, _rows([(4, "email_open", 12, None)], 10, T0))
    run_scoring(dsn, model, run_id="b", as_of=T0 + timedelta(days=1), shard_count=2)
    fit_after, state_after = versions("fit_contributions"), versions("rule_state")
    assert {lead for lead in fit_after if fit_after[lead] != fit_before.get(lead)} == {2}
    assert {lead for lead in state_after if state_after[lead] != state_before.get(lead)} == {4}
    assert unexplained_totals(dsn) == []
    with psycopg.connect(dsn) as conn:
        shown = conn.execute(
            "SELECT rule_id FROM scoring.contributions WHERE lead_id = 2 ORDER BY 1"
        ).fetchall()
    assert shown == [("form_submission",), ("other_sources",)]
    incremental = snapshot(dsn)
    run_scoring(dsn, model, run_id="b", as_of=T0 + timedelta(days=1), shard_count=3, full=True)
    assert snapshot(dsn) == incremental


def test_a_night_snapshots_history_only_for_changes_other_than_fading(clean_warehouse: str) -> None:
    """Every engaged lead's score fades overnight, but only the lead with a new event gets a history row;
    the history still gives every lead's faded score that night."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(lead, "form_submission", -5, None) for lead in (1, 2, 3)], 0, T0))
    run_scoring(dsn, model, run_id="a", as_of=T0, shard_count=2)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(3, "email_open", 12, None)], 10, T0))
    night = T0 + timedelta(days=1)
    result = run_scoring(dsn, model, run_id="b", as_of=night, shard_count=2)
    with psycopg.connect(dsn) as conn:
        snapshotted = conn.execute(
            "SELECT lead_id FROM scoring.score_history WHERE scored_on = %s ORDER BY 1", (night.date(),)
        ).fetchall()
    assert snapshotted == [(3,)]
    assert sum(s["score_moves"] for s in result["shards"]) == 3  # leads 1 and 2 faded, lead 3 rose
    assert _headline_rows(history_as_of(dsn, model, night)) == _headline_rows(scores_as_of(dsn, model, night))


def test_a_rewind_drops_the_snapshots_after_it(clean_warehouse: str) -> None:
    """Scoring as of an earlier day replaces the history after it: a later snapshot left in place would be
    taken for a lead's latest inputs by the next night."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(1, "form_submission", -5, None), (2, "email_open", 30, None)], 0, T0))
    for night in range(3):
        run_scoring(dsn, model, run_id=f"n{night}", as_of=T0 + timedelta(days=night), shard_count=2)
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM core.marketing_events WHERE lead_id = 2")
    rewound = T0 + timedelta(days=1)
    run_scoring(dsn, model, run_id="rewind", as_of=rewound, shard_count=2)
    with psycopg.connect(dsn) as conn:
        later = conn.execute(
            "SELECT count(*) FROM scoring.score_history WHERE scored_on > %s", (rewound.date(),)
        ).fetchone()[0]
    assert later == 0
    night = T0 + timedelta(days=2)
    run_scoring(dsn, model, run_id="again", as_of=night, shard_count=2)
    assert _headline_rows(history_as_of(dsn, model, night)) == _headline_rows(scores_as_of(dsn, model, night))


def test_a_warehouse_scored_before_snapshots_is_rescored_in_full_once(clean_warehouse: str) -> None:
    """History rows written before migration 0016 hold no inputs: the first run after it is a full rescore,
    which gives every lead a snapshot, and the nights after it are incremental again."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(lead, "form_submission", -5, None) for lead in (1, 2)], 0, T0))
    run_scoring(dsn, model, run_id="a", as_of=T0, shard_count=2)
    with psycopg.connect(dsn) as conn:  # as the old code left them
        conn.execute("UPDATE scoring.score_history SET config_hash = NULL, fits = NULL, state = NULL")
        conn.execute("UPDATE scoring.runs SET stats = stats #- '{summary,snapshots}'")
    night = T0 + timedelta(days=1)
    assert run_scoring(dsn, model, run_id="b", as_of=night, shard_count=2)["mode"] == "full"
    assert _headline_rows(history_as_of(dsn, model, night)) == _headline_rows(scores_as_of(dsn, model, night))
    assert run_scoring(dsn, model, run_id="c", as_of=night + timedelta(days=1))["mode"] == "incremental"


def test_a_warehouse_scored_before_one_rounding_of_the_sum_is_rescored_in_full_once(
    clean_warehouse: str,
) -> None:
    """Scores stored before migration 0028 summed each rule's rounded cents: the first run after it is a
    full rescore that rewrites them under one rounding of the sum, and the nights after it are
    incremental again."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, None)
    with psycopg.connect(dsn) as conn:
        add_events(
            conn, _rows([(lead, "email_open", -h, None) for lead in (1, 2) for h in (5, 7, 30)], 0, T0)
        )
    run_scoring(dsn, model, run_id="a", as_of=T0, shard_count=2)
    with psycopg.connect(dsn) as conn:  # as the old code left them: a cent off, no mark in the summary
        conn.execute("UPDATE scoring.lead_scores SET engagement = engagement + 0.01, total = total + 0.01")
        conn.execute("UPDATE scoring.runs SET stats = stats #- '{summary,engagement_rounded_once}'")
    assert run_scoring(dsn, model, run_id="b", as_of=T0, shard_count=2)["mode"] == "full"
    assert unexplained_totals(dsn) == []
    assert run_scoring(dsn, model, run_id="c", as_of=T0 + timedelta(days=1))["mode"] == "incremental"


def test_backtest_replay_finds_the_same_first_mql_days_as_the_nightly_runs(clean_warehouse: str) -> None:
    from smarketing.scoring.backtest import first_crossings

    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    events = [
        (lead, kind, hours, None)
        for lead in range(1, N_LEADS + 1)
        for kind, hours in (
            ("form_submission", 24 * lead),
            ("form_submission", 24 * lead + 3),
            ("email_open", 24 * lead + 5),
        )
    ]
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows(events, 0, T0))
    start = T0.date()
    for day in range(8):
        end_of_day = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
            days=day + 1, microseconds=-1
        )
        run_scoring(dsn, model, run_id=f"d{day}", as_of=end_of_day, shard_count=2)
    with psycopg.connect(dsn) as conn:
        nightly = conn.execute(
            "SELECT lead_id, (crossed_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' FROM scoring.mql_crossings ORDER BY 1"
        ).fetchall()
    replayed = first_crossings(dsn, model, start, start + timedelta(days=7)).sort_values("lead_id")
    assert nightly and [tuple(map(int, r)) for r in replayed.itertuples(index=False)] == nightly


def _run_states(dsn: str) -> list[tuple[str, bool]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT run_id, finished_at IS NOT NULL FROM scoring.runs ORDER BY run_id"
        ).fetchall()


@pytest.mark.parametrize("full", [False, True])
def test_a_same_day_rerun_after_a_new_lead_scores_it(clean_warehouse: str, full: bool) -> None:
    """Issue 10.2: the third run of a day, after a lead arrived, crashed in write_history (read-only array)."""
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(2, "form_submission", -5, None), (3, "email_open", -1, None)], 0, T0))
    run_scoring(dsn, model, run_id="morning", as_of=T0)
    run_scoring(dsn, model, run_id="noon", as_of=T0 + timedelta(hours=3))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO core.leads (lead_id, source_system, source_id, country, created_at) "
            "VALUES (%s, 't', 'new', 'FR', %s)",
            (N_LEADS + 1, T0),
        )
        add_events(conn, _rows([(N_LEADS + 1, "form_submission", 4, None)], 100, T0))
    run_scoring(dsn, model, run_id="evening", as_of=T0 + timedelta(hours=6), full=full)
    with psycopg.connect(dsn) as conn:
        scored = {r[0] for r in conn.execute("SELECT lead_id FROM scoring.lead_scores")}
        history = conn.execute(
            "SELECT count(*) FROM scoring.score_history WHERE lead_id = %s", (N_LEADS + 1,)
        ).fetchone()[0]
    assert scored == set(range(1, N_LEADS + 2))
    assert history == 1
    assert _run_states(dsn) == [("evening", True), ("morning", True), ("noon", True)]


def test_a_failed_run_is_marked_failed_and_a_successful_rerun_clears_the_mark(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    reset(dsn)
    good = make_model(2.0, 3)
    # A page filter outside the agreement's regex dialect (config check refuses it; a model built by hand
    # still reaches the engine): the shard's event read fails when it spells the filter for PostgreSQL.
    bad = ScoringModel(
        version=good.version,
        profiles=good.profiles,
        predicates=(
            *good.predicates[:2],
            EventPredicate("page_view", page_regex="(?P<p>/pricing)"),
            good.predicates[3],
        ),
        grades=good.grades,
        mql_min_score=good.mql_min_score,
        mql_min_grade=good.mql_min_grade,
    )
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, attributes, source_system) "
            "VALUES ('p1', 2, 'page_view', %s, '{\"url\": \"/pricing\"}', 't')",
            (T0 - timedelta(hours=5),),
        )
    with pytest.raises(ValueError, match="named group"):
        run_scoring(dsn, bad, run_id="r", as_of=T0)
    with psycopg.connect(dsn) as conn:
        finished, failed = conn.execute(
            "SELECT finished_at, stats->'failed' FROM scoring.runs WHERE run_id = 'r'"
        ).fetchone()
        assert conn.execute("SELECT count(*) FROM scoring.lead_scores").fetchone()[0] == 0
    assert finished is None
    assert failed["step"] == "shard_0" and failed["error"]
    run_scoring(dsn, good, run_id="r", as_of=T0)
    with psycopg.connect(dsn) as conn:
        finished, failed = conn.execute(
            "SELECT finished_at, stats->'failed' FROM scoring.runs WHERE run_id = 'r'"
        ).fetchone()
    assert finished is not None and failed is None


def test_scores_are_stored_in_the_tables_own_types(clean_warehouse: str) -> None:
    """Lead and profile scores go in by binary COPY: every column holds the kernel's value, NULL where it
    has none (a grade below the lowest threshold, no band, so no priority), the run's times, day and ids."""
    dsn = clean_warehouse
    reset(dsn)
    base = make_model(2.0, None)
    default = base.profiles[0]
    model = replace(
        base,
        version="typed",
        profiles=(default, Profile("france_only", default.fit_rules[:1], default.engagement)),
        grades=(("A", 10),),
        engagement_bands=(("1", 5.0), ("2", 0.5)),
    )
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(2, "form_submission", -5, None), (3, "email_open", -1, None)], 0, T0))
    started = datetime.now(UTC)
    run_scoring(dsn, model, run_id="typed-run", as_of=T0, shard_count=2)
    expected = scores_as_of(dsn, model, T0).sort_values("lead_id").reset_index(drop=True)
    expected = expected.astype({"grade": object, "band": object}).where(expected.notna(), None)
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            "SELECT lead_id, fit, engagement, total, grade, engagement_band, priority, is_mql, profile_id,"
            " model_version, config_hash, as_of, scored_at, run_id, history_on FROM scoring.lead_scores"
            " ORDER BY lead_id"
        ).fetchall()
        profiles = conn.execute(
            "SELECT lead_id, profile_id, fit, engagement, total, grade, is_mql FROM scoring.profile_scores"
            " ORDER BY lead_id, profile_id"
        ).fetchall()
    assert [row[:9] for row in stored] == [
        (
            int(r.lead_id),
            int(r.fit),
            Decimal(f"{r.engagement:.2f}"),
            Decimal(f"{r.total:.2f}"),
            r.grade,
            r.band,
            r.grade + r.band if r.grade and r.band else None,
            bool(r.is_mql),
            r.profile_id,
        )
        for r in expected.itertuples()
    ]
    assert {row[4] for row in stored} == {"A", None} and {row[6] for row in stored} >= {"A1", None}
    assert {row[9:12] for row in stored} == {(model.version, model.config_hash, T0)}
    assert all(started <= row[12] <= datetime.now(UTC) for row in stored)
    assert {(row[13], row[14]) for row in stored} == {("typed-run", T0.date())}
    assert len(profiles) == 2 * N_LEADS
    assert {(row[0], row[1]) for row in profiles} == {
        (lead, p.profile_id) for lead in range(1, N_LEADS + 1) for p in model.profiles
    }
    by_lead = {(row[0], row[1]): row[2:] for row in profiles}
    assert all(by_lead[(row[0], row[8])] == (row[1], row[2], row[3], row[4], row[7]) for row in stored)
