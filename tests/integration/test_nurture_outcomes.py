"""nurture.scenario_outcomes: enrolled vs held out, by hand-counted cases."""

from __future__ import annotations

import math
from datetime import timedelta

import psycopg

from smarketing.nurture.outcomes import build_outcomes, effects, standing

from .nurture_support import AS_OF, add_lead, agreement, scenario

ENTERED = AS_OF - timedelta(days=40)


def test_outcomes_compare_enrolled_and_held_out_with_a_95_interval(clean_warehouse: str) -> None:
    rules = agreement([scenario("a", {"system": "mautic", "segment": 12})])
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        for lead in range(1, 21):
            add_lead(conn, lead)
            held = lead > 10
            conn.execute(
                """
                INSERT INTO nurture.enrollments (lead_id, scenario_id, cycle, arm, state, target_system, target_kind,
                       target_id, source_system, external_ref, matched, run_id, planned_at, pushed_at)
                VALUES (%s, 'a', 1, %s, %s, 'mautic', 'segment', '12', 'mautic', %s, 'x', 'r', %s, %s)
                """,
                (
                    lead,
                    "held_out" if held else "enrolled",
                    "held_out" if held else "confirmed",
                    str(lead),
                    ENTERED,
                    None if held else ENTERED,
                ),
            )
        # MQL within 30 days: 6 of 10 enrolled, 2 of 10 held out; lead 7 only after 35 days; lead 8 before entry
        crossings = [(lead, 10) for lead in (1, 2, 3, 4, 5, 6, 11, 12)] + [(7, 35), (8, -5)]
        for lead, days in crossings:
            conn.execute(
                "INSERT INTO scoring.mql_crossings (lead_id, model_version, crossed_at, total, profile_id, run_id, "
                "is_first) VALUES (%s, 't', %s, 70, 'default', 't', true)",
                (lead, ENTERED + timedelta(days=days)),
            )
        conn.execute(
            "UPDATE core.leads SET unsubscribed_at = %s WHERE lead_id IN (13, 14, 15)",
            (ENTERED + timedelta(days=3),),
        )
        assert build_outcomes(clean_warehouse, rules, as_of=AS_OF) == 6
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT metric, enrolled, enrolled_hits, held_out, held_out_hits, difference, ci_low, ci_high "
                "FROM nurture.scenario_outcomes"
            )
        }
    assert rows["mql_30d"][:4] == (10, 6, 10, 2)
    assert rows["mql_60d"][:4] == (10, 7, 10, 2)
    assert rows["unsubscribed"][:4] == (10, 0, 10, 3)
    half = 1.959964 * math.sqrt(0.6 * 0.4 / 10 + 0.2 * 0.8 / 10)
    assert math.isclose(rows["mql_30d"][4], 0.4)
    assert math.isclose(rows["mql_30d"][5], 0.4 - half) and math.isclose(rows["mql_30d"][6], 0.4 + half)
    assert effects(clean_warehouse)[0]["difference"] == rows["mql_30d"][4]
    assert standing(clean_warehouse) == {
        "a": {"enrolled": 10, "held_out": 10, "exited": 0, "skipped": 0, "waiting": 0}
    }
