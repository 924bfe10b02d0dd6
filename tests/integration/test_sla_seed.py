"""Warehouse fixtures for the SLA tests: a small CRM world written straight into core.* with COPY.

Other SLA test modules import `seed`, `paris` and `SETTINGS` from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import time

import pandas as pd
import psycopg
import pytest

from smarketing.sla.calendar import CalendarSpec
from smarketing.sla.settings import AlertSettings, SlaSettings, Tier

pytestmark = pytest.mark.integration

PARIS = "Europe/Paris"
SETTINGS = SlaSettings(
    calendar=CalendarSpec(PARIS, start=time(9), end=time(18), holiday_country="FR"),
    tiers=(Tier("hot", 60, min_score=90), Tier("standard", 240)),
    at_risk_share=0.75,
    escalate_after_minutes=120,
    accept_within_minutes=18 * 60,
    monthly_target=40,
    segment_targets={"persona:it_leader": 10, "country:FR": 20},
    alerts=AlertSettings(
        from_email="sla-robot@northwind.example",
        team_to="sales-team@northwind.example",
        marketing_to="marketing@northwind.example",
        recipients={"crm:1": "alice@northwind.example"},
    ),
)


def paris(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=PARIS)


def _copy(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row])


def seed(
    dsn: str,
    *,
    owners: Sequence[tuple[str, str | None, str | None]] = (),
    leads: Sequence[dict] = (),
    stages: Sequence[tuple[int, str, pd.Timestamp]] = (),
    touches: Sequence[tuple[int, str, pd.Timestamp]] = (),
) -> None:
    """owners: (owner_id, manager_id, timezone); leads: dicts with lead_id and optional core.leads columns;
    stages: (lead_id, stage, entered_at); touches: (lead_id, activity_type, occurred_at)."""
    lead_columns = (
        "lead_id",
        "owner_id",
        "owner_assigned_at",
        "persona_id",
        "country",
        "unsubscribed_at",
        "lifecycle_stage",
    )
    with psycopg.connect(dsn) as conn:
        _copy(
            conn,
            "core.owners",
            ("owner_id", "source_system", "source_id", "manager_id", "timezone"),
            [(o, "crm", o.split(":")[-1], m, tz) for o, m, tz in owners],
        )
        _copy(
            conn,
            "core.leads",
            ("source_system", "source_id", *lead_columns),
            [("crm", str(lead["lead_id"]), *(lead.get(c) for c in lead_columns)) for lead in leads],
        )
        _copy(
            conn,
            "core.lifecycle_history",
            ("lead_id", "stage", "entered_at", "source_system"),
            [(lead_id, stage, at, "crm") for lead_id, stage, at in stages],
        )
        existing = conn.execute("SELECT count(*) FROM core.sales_activities").fetchone()[0]
        _copy(
            conn,
            "core.sales_activities",
            ("activity_id", "lead_id", "activity_type", "occurred_at", "source_system"),
            [
                (f"crm:a{existing + i}", lead_id, kind, at, "crm")
                for i, (lead_id, kind, at) in enumerate(touches)
            ],
        )


def test_seed_writes_the_core_rows(clean_warehouse: str) -> None:
    seed(
        clean_warehouse,
        owners=[("crm:1", "crm:9", None)],
        leads=[{"lead_id": 1, "owner_id": "crm:1"}],
        stages=[(1, "marketingqualifiedlead", paris("2026-11-23 10:00"))],
        touches=[(1, "call", paris("2026-11-23 11:00"))],
    )
    with psycopg.connect(clean_warehouse) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM core.leads), (SELECT count(*) FROM core.sales_activities)"
        ).fetchone()
    assert counts == (1, 1)
