"""HubSpot extraction against the sandbox API on a loopback port and a real PostgreSQL warehouse."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from smarketing.sla.run import evaluate_followups
from smarketing.sources.state import read_state
from smarketing.warehouse.core_build import build_core
from smarketing_sandbox.api_world import ENGAGEMENT_OBJECTS
from tests.integration.sandbox_support import (
    HUBSPOT_TOKEN,
    MAUTIC_PASSWORD,
    assert_raw_matches,
    expected_hubspot,
    expected_mautic,
    hubspot_entry,
    make_world,
    mautic_entry,
    pull,
    raw_versions,
    sandbox,
)
from tests.integration.test_sla_seed import SETTINGS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("hubspot-world"))


def _landed_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        (n,) = conn.execute("SELECT coalesce(sum(row_count), 0) FROM ops.load_batches").fetchone() or (0,)
    return int(n)


def test_full_pull_equals_the_world(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        results = pull(server, clean_warehouse, hubspot_entry())
        counts = assert_raw_matches(clean_warehouse, "hubspot", expected_hubspot(server.world))
        world = server.world
    assert counts["leads"] == len(world.table("hubspot.contacts"))
    assert counts["owners"] == len(world.table("hubspot.owners"))
    assert sum(r["landed"] for r in results.values()) == _landed_rows(clean_warehouse)
    deals = raw_versions(clean_warehouse, "deals", "hubspot")
    assert deals["payload"].map(lambda p: bool(p["lead_source_id"] and p["company_source_id"])).all()
    activities = raw_versions(clean_warehouse, "sales_activities", "hubspot")
    # Which kinds a world holds follows its calendar (a small world may have no meeting), so the expected
    # count per kind is the world's own: each engagement object's records land under its own type, and a
    # kind dropped, mislabelled or mixed into another shows as a count that differs from the API's table.
    want_kinds = {
        kind.lower(): len(world.table(f"hubspot.{name}"))
        for kind, name in ENGAGEMENT_OBJECTS.items()
        if len(world.table(f"hubspot.{name}"))
    }
    assert len(want_kinds) >= 2, want_kinds  # else the mapping of types would go unchecked
    newest = activities.sort_values("ms").drop_duplicates("source_id", keep="last")
    assert newest["payload"].map(lambda p: p["activity_type"]).value_counts().to_dict() == want_kinds
    assert activities["payload"].map(lambda p: p["lead_source_id"] is not None and p["occurred_at"]).all()
    leads = raw_versions(clean_warehouse, "leads", "hubspot")
    sample = leads["payload"].iloc[0]
    assert {"email", "lifecycle_stage", "consent_email", "attributes"} <= set(sample)
    assert "firstname" in sample["attributes"] and "hs_lifecyclestage_lead_date" not in sample["attributes"]
    with psycopg.connect(clean_warehouse) as conn:
        state = read_state(conn, "hubspot", "contacts")
    assert state.watermark_ms is not None and state.cursor == {}


def test_incremental_pulls_land_only_what_changed(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, hubspot_entry())
        before = _landed_rows(clean_warehouse)
        changed = server.world.mutate(updates=40, creates=7, archives=3)
        results = pull(server, clean_warehouse, hubspot_entry())
        assert_raw_matches(clean_warehouse, "hubspot", expected_hubspot(server.world))
        after = _landed_rows(clean_warehouse)
        # Only changes land: updated contacts, companies and deals (the 40 Mautic contacts aside), new
        # contacts with their lifecycle entries, archivals (an archived record's update is not searchable).
        hubspot_updates = changed.updated - 40
        assert 0 < after - before <= hubspot_updates + 2 * changed.created + changed.archived
        assert results["contacts"]["archived"]["landed"] >= 3
        leads = raw_versions(clean_warehouse, "leads", "hubspot")
        archived = leads[leads["payload"].map(lambda p: p["attributes"].get("archived") == "true")]
        assert len(archived) == 3 and archived["source_id"].is_unique
        # Nothing changed since: a rerun lands nothing at all.
        pull(server, clean_warehouse, hubspot_entry())
        assert _landed_rows(clean_warehouse) == after


def test_records_indexed_late_are_caught_by_the_overlap(world_dir: Path, clean_warehouse: str) -> None:
    entry = hubspot_entry(objects=["contacts"])
    with sandbox(world_dir, indexing_delay_s=3600) as server:
        pull(server, clean_warehouse, entry)
        server.world.touch("hubspot.contacts", 5)
        pull(server, clean_warehouse, entry)  # the five changes are not searchable yet
        with pytest.raises(AssertionError, match="not at their latest version"):
            assert_raw_matches(clean_warehouse, "hubspot", {"leads": expected_hubspot(server.world)["leads"]})
        server.config.indexing_delay_s = 0  # the index caught up
        pull(server, clean_warehouse, entry)  # starts `overlap` before the watermark
        assert_raw_matches(clean_warehouse, "hubspot", {"leads": expected_hubspot(server.world)["leads"]})


def test_bulk_update_of_25000_records_in_one_instant_is_pulled_completely(
    tmp_path: Path, clean_warehouse: str
) -> None:
    """Far past the 10,000-result cap of one search, all sharing one modified time."""
    small = make_world(tmp_path / "w", contacts=40, days=10)
    with sandbox(small) as server:
        server.world.create_contacts(25_000)
        result = pull(server, clean_warehouse, hubspot_entry(objects=["contacts"]))["contacts"]
        assert_raw_matches(clean_warehouse, "hubspot", {"leads": expected_hubspot(server.world)["leads"]})
        counters = server.stats()["counters"]
    assert counters.get("status.400", 0) == 0
    assert result["pages"] >= 125


def test_backfill_rereads_without_landing_twice(world_dir: Path, clean_warehouse: str) -> None:
    entry = hubspot_entry(objects=["contacts", "deals"])
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, entry)
        with psycopg.connect(clean_warehouse) as conn:
            watermark = read_state(conn, "hubspot", "contacts").watermark_ms
        landed = _landed_rows(clean_warehouse)
        results = pull(server, clean_warehouse, entry, since="2000-01-01")
        assert results["contacts"]["received"] > 0 and results["contacts"]["landed"] == 0
        assert _landed_rows(clean_warehouse) == landed
        with psycopg.connect(clean_warehouse) as conn:
            assert read_state(conn, "hubspot", "contacts").watermark_ms >= watermark


def test_logs_of_a_full_run_hold_no_secret(
    world_dir: Path, clean_warehouse: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with sandbox(world_dir, faults="429:0.05,5xx:0.05,drop:0.02,malformed:0.02") as server:
        hub = pull(server, clean_warehouse, hubspot_entry())
        ma = pull(server, clean_warehouse, mautic_entry())
        assert_raw_matches(clean_warehouse, "hubspot", expected_hubspot(server.world))
        assert_raw_matches(clean_warehouse, "mautic", expected_mautic(server.world))
    retries = sum(r["http"]["retries"] for r in [*hub.values(), *ma.values()])
    assert retries > 0 and "retry" in caplog.text
    for secret in (HUBSPOT_TOKEN, MAUTIC_PASSWORD):
        assert secret not in caplog.text
        assert all(secret not in record.getMessage() for record in caplog.records)


def test_email_events_of_deleted_contacts_keep_their_contact(world_dir: Path, clean_warehouse: str) -> None:
    """The batch read by e-mail finds live contacts only; a deleted one is found among landed contacts."""
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, hubspot_entry(objects=["contacts"]))
        world = server.world
        contacts, mail = world.table("hubspot.contacts"), world.table("hubspot.email_events")
        recipients = {(e or "").lower() for e in mail.props["recipient"].to_pylist()}
        emails = [(e or "").lower() for e in contacts.props["email"].to_pylist()]
        rows = [i for i, e in enumerate(emails) if e in recipients][:3]
        assert len(rows) == 3 and contacts.archived_at is not None
        contacts.archived_at[rows] = world.now_ms() - 60_000
        contacts.changed()
        pull(server, clean_warehouse, hubspot_entry(objects=["email_events"]))
    events = raw_versions(clean_warehouse, "marketing_events", "hubspot")
    assert events["payload"].map(lambda p: p["lead_source_id"] is not None).all()
    assert {str(i) for i in contacts.ids[rows].tolist()} <= set(
        events["payload"].map(lambda p: p["lead_source_id"])
    )


def test_marketing_email_events_land_with_their_contact(world_dir: Path, clean_warehouse: str) -> None:
    entry = hubspot_entry(objects=["email_events"])
    with sandbox(world_dir) as server:
        first = pull(server, clean_warehouse, entry)["email_events"]
        mail = server.world.table("hubspot.email_events")
        expected = {"marketing_events": pd.Series(-1, index=[f"hs-email-{i}" for i in mail.ids.tolist()])}
        assert_raw_matches(clean_warehouse, "hubspot", expected)
        assert first["landed"] == len(mail)
        server.world.add_activity(60)  # some of it e-mail reads by CRM contacts
        again = pull(server, clean_warehouse, entry)["email_events"]
        mail = server.world.table("hubspot.email_events")
        expected = {"marketing_events": pd.Series(-1, index=[f"hs-email-{i}" for i in mail.ids.tolist()])}
        assert_raw_matches(clean_warehouse, "hubspot", expected)
        assert again["landed"] == len(mail) - first["landed"]
    events = raw_versions(clean_warehouse, "marketing_events", "hubspot")
    contacts = {str(i) for i in server.world.table("hubspot.contacts").ids.tolist()}
    assert events["payload"].map(lambda p: p["lead_source_id"] in contacts).all()
    assert set(events["payload"].map(lambda p: p["event_type"])) <= {
        "email_sent",
        "email_open",
        "email_click",
        "bounce",
    }


def test_schema_drift_never_breaks_a_page() -> None:
    from smarketing.sources.hubspot.crm import property_columns

    pages = [
        {"properties": {"email": "a@b.example", "numberofemployees": "12"}},
        {"properties": {"email": "c@d.example", "numberofemployees": 40, "brand_new_property": True}},
    ]
    columns = property_columns(pages)
    assert columns["numberofemployees"].to_pylist() == ["12", "40"]
    assert columns["brand_new_property"].to_pylist() == [None, "true"]


def _core_contacts(dsn: str) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT s.source_id, s.lead_id, s.archived_at, s.record->>'owner_assigned_at' AS record_assigned,
                   l.owner_assigned_at, l.deleted_at,
                   count(*) OVER (PARTITION BY s.lead_id) AS records
            FROM core.lead_sources s JOIN core.leads l USING (lead_id)
            WHERE s.source_system = 'hubspot'
            """
        ).fetchall()
    columns = [
        "source_id",
        "lead_id",
        "archived_at",
        "record_assigned",
        "owner_assigned_at",
        "deleted_at",
        "records",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("source_id")


def test_deleted_merged_and_assigned_contacts_reach_core(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, hubspot_entry())
        build_core(clean_warehouse, None)
        changed = server.world.mutate(archives=3, merges=3)
        pull(server, clean_warehouse, hubspot_entry())
        build_core(clean_warehouse, None)
        contacts = server.world.table("hubspot.contacts")
        rows = np.arange(len(contacts))
        world = pd.DataFrame(
            {
                "assigned": contacts.prop("hubspot_owner_assigneddate", rows),
                "merged": contacts.prop("hs_merged_object_ids", rows),
                "archived": contacts.archived_at >= 0,
            },
            index=[str(i) for i in contacts.ids.tolist()],
        )
        before = _core_contacts(clean_warehouse)
        pull(server, clean_warehouse, hubspot_entry())
        assert build_core(clean_warehouse, None)["leads"] == 0  # nothing new: a rerun changes nothing
    core = _core_contacts(clean_warehouse)
    pd.testing.assert_frame_equal(core, before)
    assert (changed.archived, changed.merged) == (3, 3)

    # owner_assigned_at: the API's hubspot_owner_assigneddate, on the lead of a single record
    owned = world["assigned"].notna()
    assert owned.mean() > 0.3
    assert (core["record_assigned"].notna() == owned.reindex(core.index)).all()
    single = core[(core["records"] == 1) & core["archived_at"].isna()]
    expected = pd.to_datetime(world["assigned"].reindex(single.index), utc=True, format="ISO8601")
    assert (
        (single["owner_assigned_at"] == expected)
        .where(expected.notna(), single["owner_assigned_at"].isna())
        .all()
    )

    # merges: every merged-away contact is on its survivor's lead, and its own lead (if any) is gone
    survivors = world["merged"].dropna()
    assert len(survivors) == 3
    for survivor, named in survivors.items():
        for merged in named.split(";"):
            assert core.at[merged, "lead_id"] == core.at[survivor, "lead_id"]
            assert pd.notna(core.at[merged, "archived_at"])
        assert pd.isna(core.at[survivor, "deleted_at"])
    merged_ids = {m for named in survivors for m in named.split(";")}
    # deletions: an archived contact not merged anywhere leaves the live leads (when it was alone on it)
    deleted = world.index[world["archived"] & ~world.index.isin(merged_ids)]
    assert len(deleted) == 3
    alone = core.loc[deleted][core.loc[deleted, "records"] == 1]
    assert len(alone) and alone["deleted_at"].notna().all()
    with psycopg.connect(clean_warehouse) as conn:
        live = conn.execute("SELECT count(*) FROM core.leads WHERE deleted_at IS NULL").fetchone()[0]
        leads = conn.execute("SELECT count(*) FROM core.leads").fetchone()[0]
    assert leads - live >= len(alone) + len(merged_ids)


def test_the_sla_measures_routing_on_the_sandbox(tmp_path: Path, clean_warehouse: str) -> None:
    # enough contacts for a few dozen hand-overs
    with sandbox(make_world(tmp_path, contacts=2000, days=60)) as server:
        pull(server, clean_warehouse, hubspot_entry())
    build_core(clean_warehouse, None)
    evaluate_followups(clean_warehouse, SETTINGS, pd.Timestamp.now(tz="UTC"))
    with psycopg.connect(clean_warehouse) as conn:
        routed, clocks = conn.execute(
            "SELECT count(*) FILTER (WHERE routing_minutes > 0), count(*) FROM sla.followups"
        ).fetchone()
    # hand-overs outside the territory owners' contacts are routed to a rep a while after the MQL moment
    assert clocks > 20 and 0.2 < routed / clocks < 0.95
