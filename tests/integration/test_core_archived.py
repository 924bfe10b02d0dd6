"""Deleted and merged source records in core: a deleted contact leaves the live leads (and scoring and the
SLA), a merged contact's facts go to the survivor whichever order the records land in, reruns change nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from smarketing.scoring.runner import run_scoring
from smarketing.sla.run import evaluate_followups
from smarketing.sources.files import ingest_source
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import land_batch
from tests.integration.sandbox_support import make_world
from tests.integration.test_file_ingest import CRM_MAPPING
from tests.integration.test_scoring_runs import make_model
from tests.integration.test_sla_seed import SETTINGS, paris

pytestmark = pytest.mark.integration

MQL = "marketingqualifiedlead"
CREATED = datetime(2026, 11, 2, 9, tzinfo=UTC)
HANDOVER = paris("2026-11-23 10:00")
DELETED = datetime(2026, 11, 24, 8, tzinfo=UTC)
MERGED = datetime(2026, 11, 25, 8, tzinfo=UTC)
Record = tuple[str, datetime | None, dict[str, Any]]


def iso(moment: datetime | pd.Timestamp) -> str:
    return moment.astimezone(UTC).isoformat()


def land(dsn: str, obj: str, records: Sequence[Record]) -> None:
    frame = pd.DataFrame(
        {
            "source_id": [r[0] for r in records],
            "source_updated_at": [iso(r[1]) if r[1] else None for r in records],
            "payload": [json.dumps(r[2]) for r in records],
        }
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        land_batch(conn, source_system="hubspot", object=obj, origin="test", rows=[frame])


def contact(email: str, title: str, updated: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "job_title": title,
        "country": "FR",
        "owner_source_id": "o1",
        "created_at": iso(CREATED),
        "updated_at": iso(updated),
        "attributes": extra.pop("attributes", {}),
        **extra,
    }


def archived(record: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The last version HubSpot lists for a deleted or merged-away record (as the connector lands it)."""
    return {**record, "updated_at": iso(at), "attributes": {"archived": "true", "archived_at": iso(at)}}


ALICE = contact("alice@acme.example", "CTO", CREATED)
ALICE_PRIVATE = contact("a.l@gmail.example", "Head of IT", CREATED + timedelta(hours=1))
CAROL = contact("carol@globex.example", "Analyst", CREATED)


def land_contacts_and_facts(dsn: str) -> None:
    """Alice twice (1: work e-mail, 2: private one, later merged into 1), Carol (3, later deleted); facts
    on each record."""
    land(dsn, "leads", [("1", CREATED, ALICE), ("2", CREATED, ALICE_PRIVATE), ("3", CREATED, CAROL)])
    land(
        dsn,
        "marketing_events",
        [
            (
                f"ev{i}",
                None,
                {"lead_source_id": c, "event_type": "form_submission", "occurred_at": iso(CREATED)},
            )
            for i, c in ((1, "1"), (2, "2"), (3, "3"))
        ],
    )
    land(
        dsn,
        "sales_activities",
        [("call2", None, {"lead_source_id": "2", "activity_type": "call", "occurred_at": iso(CREATED)})],
    )
    land(
        dsn,
        "deals",
        [("d2", CREATED, {"lead_source_id": "2", "amount": 100, "stage": "appointmentscheduled"})],
    )
    land(
        dsn,
        "lifecycle_history",
        [
            (f"{c}|{MQL}", None, {"lead_source_id": c, "stage": MQL, "entered_at": iso(HANDOVER)})
            for c in ("2", "3")
        ],
    )


def land_merge(dsn: str, *, survivor_first: bool = True) -> None:
    """Record 2 merged into 1: the survivor's new version names it, 2 is listed archived."""
    survivor = ("1", MERGED, contact("alice@acme.example", "CTO", MERGED, merged_source_ids="2"))
    gone = ("2", MERGED, archived(ALICE_PRIVATE, MERGED))
    for record in (survivor, gone) if survivor_first else (gone, survivor):
        land(dsn, "leads", [record])


def lead_of(conn: psycopg.Connection, source_id: str) -> int:
    return conn.execute(
        "SELECT lead_id FROM core.lead_sources WHERE source_system = 'hubspot' AND source_id = %s",
        (source_id,),
    ).fetchone()[0]


def live_leads(conn: psycopg.Connection) -> set[str]:
    """Live leads by e-mail."""
    rows = conn.execute("SELECT email_normalized FROM core.leads WHERE deleted_at IS NULL").fetchall()
    return {r[0] for r in rows}


def facts_by_lead(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every fact by natural key, with the e-mail of its lead's first record (independent of lead ids)."""
    queries = {
        "marketing_events": "SELECT event_id, lead_id FROM core.marketing_events",
        "sales_activities": "SELECT activity_id, lead_id FROM core.sales_activities",
        "deals": "SELECT deal_id, lead_id FROM core.deals",
        "lifecycle_history": "SELECT stage || '@' || source_system, lead_id FROM core.lifecycle_history",
    }
    email = dict(conn.execute("SELECT lead_id, email_normalized FROM core.leads").fetchall())
    return {
        name: sorted(f"{key}->{email[lead]}" for key, lead in conn.execute(query).fetchall())  # type: ignore[arg-type]
        for name, query in queries.items()
    }


def core_rows(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: sorted(map(tuple, conn.execute(f"SELECT * FROM core.{t}").fetchall()), key=repr)
        for t in ("leads", "lead_sources", "lead_merges", "marketing_events", "sales_activities", "deals")
    }


def test_a_deleted_contact_leaves_the_live_leads_scoring_and_the_sla(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    land_contacts_and_facts(dsn)
    build_core(dsn, None)
    model = make_model(None, None)
    run_scoring(dsn, model, run_id="before", as_of=DELETED - timedelta(hours=1))
    with psycopg.connect(dsn) as conn:
        carol = lead_of(conn, "3")
        scored = {r[0] for r in conn.execute("SELECT lead_id FROM scoring.lead_scores")}
    assert carol in scored

    land(dsn, "leads", [("3", DELETED, archived(CAROL, DELETED))])
    build_core(dsn, None)
    with psycopg.connect(dsn) as conn:
        assert live_leads(conn) == {"alice@acme.example", "a.l@gmail.example"}
        deleted_at, title = conn.execute(
            "SELECT deleted_at, job_title FROM core.leads WHERE lead_id = %s", (carol,)
        ).fetchone()
        # deleted since the archival, keeping what its record said
        assert (deleted_at, title) == (DELETED, "Analyst")
        # the row and its facts stay: ids are stable and a replay before the deletion still sees it
        assert conn.execute(
            "SELECT count(*) FROM core.marketing_events WHERE lead_id = %s", (carol,)
        ).fetchone()[0]
        before = core_rows(conn)
    assert build_core(dsn, None)["leads"] == 0
    with psycopg.connect(dsn) as conn:
        assert core_rows(conn) == before

    run_scoring(dsn, model, run_id="after", as_of=DELETED + timedelta(hours=1))
    evaluate_followups(dsn, SETTINGS, DELETED + timedelta(hours=1))
    with psycopg.connect(dsn) as conn:
        scored = {r[0] for r in conn.execute("SELECT lead_id FROM scoring.lead_scores")}
        clocks = {r[0] for r in conn.execute("SELECT lead_id FROM sla.followups")}
    assert carol not in scored and len(scored) == 2
    # handed over by the CRM stage or a scoring crossing: every live lead, Carol not any more
    assert clocks == scored


@pytest.mark.parametrize(
    "order",
    ["built_before_the_merge", "archival_before_the_survivor", "all_at_once"],
)
def test_a_merged_contact_belongs_to_the_survivor(clean_warehouse: str, order: str) -> None:
    dsn = clean_warehouse
    land_contacts_and_facts(dsn)
    if order != "all_at_once":
        build_core(dsn, None)
    if order == "archival_before_the_survivor":
        land_merge(dsn, survivor_first=False)
        build_core(dsn, None)  # the archival alone: record 2's lead is deleted for now
        with psycopg.connect(dsn) as conn:
            assert live_leads(conn) == {"alice@acme.example", "carol@globex.example"}
        land(
            dsn, "leads", [("1", MERGED, contact("alice@acme.example", "CTO", MERGED, merged_source_ids="2"))]
        )
    else:
        land_merge(dsn)
    build_core(dsn, None)

    with psycopg.connect(dsn) as conn:
        survivor = lead_of(conn, "1")
        assert lead_of(conn, "2") == survivor
        assert conn.execute("SELECT * FROM core.lead_merges").fetchall() == [("hubspot", "2", "1")]
        assert live_leads(conn) == {"alice@acme.example", "carol@globex.example"}
        # the merged-away record's archived last version does not speak for the survivor
        title, deleted_at = conn.execute(
            "SELECT job_title, deleted_at FROM core.leads WHERE lead_id = %s", (survivor,)
        ).fetchone()
        assert (title, deleted_at) == ("CTO", None)
        facts = facts_by_lead(conn)
        before = core_rows(conn)
    alice, carol = "alice@acme.example", "carol@globex.example"
    assert facts == {
        "marketing_events": [f"hubspot:ev1->{alice}", f"hubspot:ev2->{alice}", f"hubspot:ev3->{carol}"],
        "sales_activities": [f"hubspot:call2->{alice}"],
        "deals": [f"hubspot:d2->{alice}"],
        "lifecycle_history": sorted([f"{MQL}@hubspot->{alice}", f"{MQL}@hubspot->{carol}"]),
    }
    assert build_core(dsn, None)["leads"] == 0
    with psycopg.connect(dsn) as conn:
        assert core_rows(conn) == before


def test_owner_assigned_at_comes_from_the_owners_record(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    assigned = iso(HANDOVER + pd.Timedelta(minutes=40))
    land(dsn, "leads", [("1", CREATED, {**ALICE, "owner_assigned_at": assigned})])
    build_core(dsn, None)
    # a later version without a date (the owner changed, the source did not say when) clears it
    land(dsn, "leads", [("1", MERGED, {**ALICE, "owner_source_id": "o2", "updated_at": iso(MERGED)})])
    with psycopg.connect(dsn) as conn:
        first = conn.execute("SELECT owner_id, owner_assigned_at FROM core.leads").fetchone()
    build_core(dsn, None)
    with psycopg.connect(dsn) as conn:
        second = conn.execute("SELECT owner_id, owner_assigned_at FROM core.leads").fetchone()
    assert first == ("hubspot:o1", HANDOVER + pd.Timedelta(minutes=40))
    assert second == ("hubspot:o2", None)


def test_owner_assigned_at_is_filled_from_the_sandbox_export(clean_warehouse: str, tmp_path: Path) -> None:
    root = make_world(tmp_path, contacts=400, days=45)
    ingest_source(clean_warehouse, CRM_MAPPING, root=root, run_id="test")
    build_core(clean_warehouse, None)
    export = pd.read_csv(root / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    expected = pd.Series(
        pd.to_datetime(export["hubspot_owner_assigneddate"].replace("", None), utc=True).to_numpy(),
        index=export["contact_id"],
    )
    with psycopg.connect(clean_warehouse) as conn:
        rows = conn.execute(
            """
            SELECT s.source_id, l.owner_assigned_at FROM core.lead_sources s JOIN core.leads l USING (lead_id)
            WHERE (SELECT count(*) FROM core.lead_sources o WHERE o.lead_id = s.lead_id) = 1
            """
        ).fetchall()
    core = pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype="datetime64[ns, UTC]")
    assert core.notna().mean() > 0.3
    pd.testing.assert_series_equal(core, expected.reindex(core.index).astype(core.dtype), check_names=False)
