"""A small CRM + marketing world for the KPI tests, landed in raw.* and folded into core like real data.

Four leads over January-April 2026 (Paris), hand-counted in docs of each test:
  lead 1  CTO, FR, Software, owner crm:o1 (EMEA), utm_medium "Paid Search"; created Jan 5, MQL Jan 10,
          SQL Mar 2, opportunity Mar 5 (deal D1, 1000, opened Mar 5, won Apr 10); six touches before D1
  lead 2  Developer, DE, Retail, crm:o2 (DACH), utm_medium email; created Jan 20, SQL Feb 1 (skips MQL)
  lead 3  CFO, FR, Software, crm:o1; created Feb 3, MQL Feb 10, deal D3 (300, opened Feb 12, open),
          one touch before it
  lead 4  no title, DE, Retail, crm:o2; created Feb 15, deal D2 (500, opened Feb 20, won Feb 25), no
          touch at all (attribution: unattributed)
Nothing happens in May (the empty month).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg

from smarketing.config import load_config
from smarketing.kpi.build import build_kpis
from smarketing.kpi.settings import KpiSettings, settings_from_agreement
from smarketing.warehouse.connection import connect
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import land_batch

AS_OF = "2026-06-01T00:00:00Z"
# The sandbox world of the KPI and review-report tests ends here (its last full month is October 2026).
SANDBOX_END = datetime(2026, 11, 16, tzinfo=UTC)


def kpi_settings(**overrides: object) -> KpiSettings:
    from dataclasses import replace

    return replace(settings_from_agreement(load_config()), **{"goals": (), **overrides})


def land(dsn: str, obj: str, records: Sequence[dict], *, source_system: str = "crm") -> None:
    """Land records (each with "id" and its canonical fields) as one raw batch."""
    frame = pd.DataFrame(
        {
            "source_id": [r["id"] for r in records],
            "payload": [json.dumps({k: v for k, v in r.items() if k != "id"}) for r in records],
        }
    )
    with connect(dsn, autocommit=True) as conn:
        land_batch(conn, source_system=source_system, object=obj, origin="kpi test", rows=[frame], run_id="t")


def fold(dsn: str) -> None:
    build_core(dsn, load_config())


def lead(
    i: int, title: str | None, country: str, company: str, owner: str, created: str, **attrs: str
) -> dict:
    return {
        "id": f"L{i}",
        "email": f"person{i}@customer{i}.example",
        "job_title": title,
        "country": country,
        "company_source_id": company,
        "owner_source_id": owner,
        "created_at": created,
        "attributes": attrs,
    }


def stage(i: int, name: str, at: str) -> dict:
    return {"id": f"L{i}|{name}", "lead_source_id": f"L{i}", "stage": name, "entered_at": at}


def event(
    eid: str, i: int, kind: str, at: str, campaign: str | None = None, topic: str | None = None
) -> dict:
    return {
        "id": eid,
        "lead_source_id": f"L{i}",
        "event_type": kind,
        "occurred_at": at,
        "campaign_id": campaign,
        "content_topic": topic,
        "attributes": {},
    }


def deal(
    did: str, i: int, company: str, amount: float, created: str, closed: str | None, won: bool | None
) -> dict:
    return {
        "id": did,
        "lead_source_id": f"L{i}",
        "company_source_id": company,
        "amount": amount,
        "stage": "closedwon" if won else "open",
        "created_at": created,
        "closed_at": closed,
        "is_won": won,
    }


def seed_world(dsn: str) -> None:
    land(
        dsn,
        "owners",
        [
            {"id": "o1", "name": "Alice Martin", "team": "EMEA"},
            {"id": "o2", "name": "Bob Meyer", "team": "DACH"},
        ],
    )
    land(
        dsn,
        "companies",
        [
            {
                "id": "c1",
                "name": "Acme SAS",
                "domain": "acme.example",
                "industry": "Software",
                "country": "FR",
            },
            {
                "id": "c2",
                "name": "Kaufhaus GmbH",
                "domain": "kaufhaus.example",
                "industry": "Retail",
                "country": "DE",
            },
        ],
    )
    land(
        dsn,
        "leads",
        [
            lead(1, "CTO", "FR", "c1", "o1", "2026-01-05T09:00:00Z", utm_medium="Paid Search"),
            lead(2, "Developer", "DE", "c2", "o2", "2026-01-20T10:00:00Z", utm_medium="email"),
            lead(3, "CFO", "FR", "c1", "o1", "2026-02-03T10:00:00Z"),
            lead(4, None, "DE", "c2", "o2", "2026-02-15T10:00:00Z"),
        ],
    )
    land(
        dsn,
        "lifecycle_history",
        [
            stage(1, "marketingqualifiedlead", "2026-01-10T10:00:00Z"),
            stage(1, "salesqualifiedlead", "2026-03-02T10:00:00Z"),
            stage(1, "opportunity", "2026-03-05T10:00:00Z"),
            stage(1, "customer", "2026-04-10T10:00:00Z"),
            stage(2, "salesqualifiedlead", "2026-02-01T10:00:00Z"),
            stage(3, "marketingqualifiedlead", "2026-02-10T10:00:00Z"),
            stage(4, "customer", "2026-02-25T10:00:00Z"),
        ],
    )
    land(
        dsn,
        "deals",
        [
            deal("D1", 1, "c1", 1000, "2026-03-05T10:00:00Z", "2026-04-10T10:00:00Z", True),
            deal("D2", 4, "c2", 500, "2026-02-20T10:00:00Z", "2026-02-25T10:00:00Z", True),
            deal("D3", 3, "c1", 300, "2026-02-12T10:00:00Z", None, None),
        ],
    )
    land(
        dsn,
        "marketing_events",
        [
            event("E1", 1, "page_view", "2026-01-04T10:00:00Z", "C1", "pricing"),
            event("E2", 1, "form_submission", "2026-01-05T08:00:00Z", "C2", "pricing"),
            event("E3", 1, "email_sent", "2026-01-08T09:00:00Z", "C3", "Security"),
            event("E4", 1, "email_open", "2026-01-08T12:00:00Z", "C3", "Security"),
            event("E5", 1, "email_click", "2026-01-09T12:00:00Z", "C3", "Security"),
            event("E6", 1, "webinar_attended", "2026-02-15T16:00:00Z", "C4", "integration"),
            event("E7", 1, "demo_request", "2026-03-01T10:00:00Z", "C2", "pricing"),
            event("E8", 1, "page_view", "2026-03-10T10:00:00Z", "C1", "pricing"),
            event("E9", 3, "content_download", "2026-02-11T10:00:00Z", "C5", "security"),
        ],
    )
    fold(dsn)


def rows(dsn: str, query: str, params: Sequence | dict | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def build_sandbox_kpis(dsn: str, folder: Path) -> None:
    """The sandbox world (1,500 contacts over 150 days up to SANDBOX_END) in the migrated warehouse at
    `dsn`, scored, its SLA clocks and marketing delivery read, and its KPIs built: as the DAGs do it."""
    from smarketing.scoring.model import compile_model
    from smarketing.scoring.runner import run_scoring
    from smarketing.sla.run import evaluate_followups, measure_delivery
    from smarketing.sla.settings import settings_from_agreement as sla_settings
    from tests.integration.test_scoring_world import load_world

    load_world(dsn, folder, contacts=1500, days=150, end=SANDBOX_END)
    agreement = load_config()
    run_scoring(dsn, compile_model(agreement), run_id="kpi-test", as_of=SANDBOX_END, full=True)
    evaluate_followups(dsn, sla_settings(agreement), SANDBOX_END)
    measure_delivery(dsn, sla_settings(agreement), SANDBOX_END)
    build_kpis(dsn, settings_from_agreement(agreement), as_of=SANDBOX_END)


@contextmanager
def sandbox_kpi_warehouse(folder: Path) -> Iterator[str]:
    """A fresh warehouse holding `build_sandbox_kpis`'s world (its DSN), dropped afterwards."""
    from smarketing.warehouse import migrate
    from smarketing.warehouse.connection import drop_database, with_database
    from tests.conftest import SERVER_DSN

    dsn = with_database(SERVER_DSN, f"smk_test_kpi_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    try:
        build_sandbox_kpis(dsn, folder)
        yield dsn
    finally:
        drop_database(dsn)
