"""Marketing delivery read from the warehouse: MQLs per month and segment, accepted ones, upserts."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from smarketing.sla.run import measure_delivery
from tests.integration.test_sla_seed import SETTINGS, paris, seed

pytestmark = pytest.mark.integration

MQL = "marketingqualifiedlead"


@pytest.fixture()
def november(clean_warehouse: str) -> str:
    with psycopg.connect(clean_warehouse) as conn:
        conn.execute(
            "INSERT INTO core.companies (company_id, source_system, source_id, industry) "
            "VALUES (1, 'crm', '1', 'Software'), (2, 'crm', '2', 'Retail')"
        )
    seed(
        clean_warehouse,
        leads=[
            {"lead_id": 1, "persona_id": "it_leader", "country": "FR"},
            {"lead_id": 2, "persona_id": "developer", "country": "fr"},
            {"lead_id": 3, "persona_id": "it_leader", "country": "DE"},
            {"lead_id": 4, "country": "FR"},  # handed over in October
            {"lead_id": 5},  # handed over after the moment read
        ],
        stages=[
            (1, MQL, paris("2026-11-02 10:00")),
            (2, MQL, paris("2026-11-10 10:00")),
            (3, MQL, paris("2026-11-16 10:00")),
            (4, MQL, paris("2026-10-30 10:00")),
            (5, MQL, paris("2026-11-20 10:00")),
            (1, "salesqualifiedlead", paris("2026-11-03 10:00")),
            (3, "salesqualifiedlead", paris("2026-11-19 10:00")),  # after the moment read
            (4, "salesqualifiedlead", paris("2026-10-29 10:00")),  # before its MQL moment: not an acceptance
        ],
    )
    with psycopg.connect(clean_warehouse) as conn:
        conn.execute("UPDATE core.leads SET company_id = 1 WHERE lead_id IN (1, 2)")
    return clean_warehouse


def test_delivery_per_month_and_segment(november: str) -> None:
    targets = {"persona:it_leader": 10, "country:FR": 20, "industry:software": 5}
    settings = replace(SETTINGS, segment_targets=targets)
    rows = {
        (r["period"], r["segment"]): r
        for r in measure_delivery(november, settings, paris("2026-11-18 18:00"))
    }
    assert (rows[("2026-11-01", "all")]["delivered"], rows[("2026-11-01", "all")]["accepted"]) == (3, 1)
    assert rows[("2026-11-01", "persona:it_leader")]["delivered"] == 2
    assert rows[("2026-11-01", "country:FR")]["delivered"] == 2
    assert rows[("2026-11-01", "industry:software")]["delivered"] == 2
    october = rows[("2026-10-01", "all")]
    assert (october["delivered"], october["accepted"], october["status"]) == (1, 0, "missed")

    with psycopg.connect(november) as conn:
        stored = conn.execute(
            "SELECT segment, delivered, accepted, status FROM sla.marketing_delivery "
            "WHERE period = '2026-11-01' ORDER BY segment"
        ).fetchall()
    assert stored == [
        ("all", 3, 1, "behind"),
        ("country:FR", 2, 1, "behind"),
        ("industry:software", 2, 1, "behind"),
        ("persona:it_leader", 2, 1, "behind"),
    ]


def test_rerun_is_idempotent_and_a_replay_keeps_the_latest(november: str) -> None:
    measure_delivery(november, SETTINGS, paris("2026-11-18 18:00"))
    with psycopg.connect(november) as conn:
        before = conn.execute("SELECT * FROM sla.marketing_delivery ORDER BY 1, 2").fetchall()
    measure_delivery(november, SETTINGS, paris("2026-11-18 18:00"))
    measure_delivery(november, SETTINGS, paris("2026-11-05 18:00"))  # a replay of the past
    with psycopg.connect(november) as conn:
        after = conn.execute("SELECT * FROM sla.marketing_delivery ORDER BY 1, 2").fetchall()
    assert before == after
