"""Migration 0020 on a warehouse scored before it: its stored scores become score inputs and lead-id
ranges, and scoring.lead_scores (now a view) shows the scores they are computed from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from smarketing.scoring.model import load_model
from smarketing.scoring.runner import MAX_ID, MIN_ID, _rule_rows
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from tests.conftest import SERVER_DSN

T = datetime(2026, 11, 16, 2, tzinfo=UTC)
DAY_BEFORE = T - timedelta(days=1)


def test_stored_scores_become_inputs_and_ranges() -> None:
    dsn = with_database(SERVER_DSN, f"smk_test_m0020_{uuid.uuid4().hex[:8]}")
    try:
        migrate.upgrade(dsn, "0016")
        model = load_model()
        profile = model.profiles[0]
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO scoring.models (model_version, config_hash, definition) VALUES (%s, %s, %s)",
                (model.version, model.config_hash, Jsonb(model.definition())),
            )
            conn.cursor().executemany(
                "INSERT INTO scoring.rules (config_hash, model_version, profile_id, kind, rule_id, rule_no,"
                " description, points, cap, max_per_day) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _rule_rows(model),
            )
            conn.execute(
                "INSERT INTO scoring.profiles (config_hash, profile_id, half_life_days, floor) VALUES (%s, %s, %s, %s)",
                (
                    model.config_hash,
                    profile.profile_id,
                    profile.engagement.half_life_days,
                    profile.engagement.floor,
                ),
            )
            # Leads 1-3 scored by run r1, 4-5 by r0 a day earlier (their shard failed in r1). The stored
            # score columns are not read: the view computes them from fit rows and state.
            for lead_id, fit, value, as_of, run in (
                (1, 40, 12.5, T, "r1"),
                (2, 25, 0.0, T, "r1"),
                (3, 10, 90.0, T, "r1"),
                (4, 0, 30.0, DAY_BEFORE, "r0"),
                (5, 30, 45.0, DAY_BEFORE, "r0"),
            ):
                conn.execute(
                    "INSERT INTO scoring.lead_scores (lead_id, fit, engagement, total, is_mql, profile_id,"
                    " model_version, config_hash, as_of, scored_at, run_id, history_on)"
                    " VALUES (%s, %s, 0, 0, false, 'default', %s, %s, %s, now(), %s, %s)",
                    (lead_id, fit, model.version, model.config_hash, as_of, run, as_of.date()),
                )
                if fit:
                    conn.execute(
                        "INSERT INTO scoring.fit_contributions (lead_id, profile_id, rule_id, points)"
                        " VALUES (%s, 'default', %s, %s)",
                        (lead_id, profile.fit_rules[0].rule_id, fit),
                    )
                if value:
                    conn.execute(
                        "INSERT INTO scoring.rule_state (lead_id, rule_no, value, as_of) VALUES (%s, 0, %s, %s)",
                        (lead_id, value, as_of),
                    )
        migrate.upgrade(dsn)
        with psycopg.connect(dsn) as conn:
            ranges = conn.execute(
                "SELECT low, high, as_of, run_id FROM scoring.scored_ranges ORDER BY low"
            ).fetchall()
            assert ranges == [(MIN_ID, 3, T, "r1"), (4, MAX_ID, DAY_BEFORE, "r0")]
            inputs = conn.execute("SELECT lead_id, fits FROM scoring.lead_score_inputs ORDER BY 1").fetchall()
            assert inputs == [(1, [40]), (2, [25]), (3, [10]), (4, [0]), (5, [30])]
            scores = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT lead_id, engagement, total, grade, engagement_band, priority, is_mql, as_of"
                    " FROM scoring.lead_scores"
                )
            }
    finally:
        drop_database(dsn)
    # Grades A 40, B 25, C 10, D 0; bands 1 from 60, 2 from 30, 3 from 10, 4 from 0; MQL: 60 points and
    # grade C or better. Rule 0 (demo_request) is capped at 60.
    assert scores == {
        1: (Decimal("12.50"), Decimal("52.50"), "A", "3", "A3", False, T),
        2: (Decimal("0.00"), Decimal("25.00"), "B", "4", "B4", False, T),
        3: (Decimal("60.00"), Decimal("70.00"), "C", "1", "C1", True, T),
        4: (Decimal("30.00"), Decimal("30.00"), "D", "2", "D2", False, DAY_BEFORE),
        5: (Decimal("45.00"), Decimal("75.00"), "B", "2", "B2", True, DAY_BEFORE),
    }
