"""Mautic segment memberships and point changes, from the sandbox API on a loopback port through raw
to core, against a real PostgreSQL warehouse."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import requests

from smarketing.sources.http import ApiClient
from smarketing.sources.mautic.auth import BasicAuth
from smarketing.sources.mautic.segments import segment_members
from smarketing.sources.state import ExtractError
from smarketing.warehouse.core_build import build_core
from smarketing_sandbox import api_segments
from smarketing_sandbox.marketing import TAG_NAMES
from smarketing_sandbox.server import SandboxServer
from tests.integration.sandbox_support import (
    credentials,
    make_world,
    mautic_entry,
    pull,
    raw_versions,
    sandbox,
)
from tests.integration.test_extract_faults import FAULTS

pytestmark = pytest.mark.integration

OBJECTS = ["contacts", "activity", "segments"]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("segments-world"), contacts=250, days=40)


def pull_all(server: SandboxServer, dsn: str, **entry: object) -> dict[str, dict]:
    return pull(server, dsn, mautic_entry(objects=OBJECTS, **entry))


def world_memberships(server: SandboxServer) -> pd.DataFrame:
    state = api_segments.memberships(server.world).reset_index()
    state["contact"] = state["contact"].astype(str)
    return state.set_index(["contact", "segment"]).sort_index()


def core_memberships(dsn: str) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT source_id, segment_alias, is_member,
                   (extract(epoch FROM added_at) * 1000)::bigint,
                   (extract(epoch FROM removed_at) * 1000)::bigint,
                   (extract(epoch FROM changed_at) * 1000)::bigint,
                   lead_id IS NOT NULL AND segment_id IS NOT NULL
            FROM core.segment_memberships WHERE source_system = 'mautic'
            """
        ).fetchall()
    frame = pd.DataFrame(
        rows,
        columns=["contact", "segment", "is_member", "added_at", "removed_at", "changed_at", "resolved"],
    )
    return frame.set_index(["contact", "segment"]).sort_index()


def assert_core_matches_world(server: SandboxServer, dsn: str) -> pd.DataFrame:
    build_core(dsn, None)
    want, have = world_memberships(server), core_memberships(dsn)
    assert have["resolved"].all()
    assert list(have.index) == list(want.index)
    assert (have["is_member"] == want["is_member"]).all()
    for column in ("added_at", "removed_at", "changed_at"):
        expected = want[column].astype("Int64")
        assert (have[column].astype("Int64").fillna(-1) == expected.fillna(-1)).all(), column
    return have


def raw_change_ids(dsn: str) -> list[str]:
    frame = raw_versions(dsn, "segment_memberships", "mautic")
    assert not frame["source_id"].duplicated().any(), "a membership change landed twice"
    return sorted(frame["source_id"])


def world_change_ids(server: SandboxServer) -> list[str]:
    return sorted(f"segment_membership{i}" for i in api_segments.segment_log(server.world).ids.tolist())


def test_full_pull_equals_the_world_and_builds_core(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        results = pull_all(server, clean_warehouse)
        assert raw_change_ids(clean_warehouse) == world_change_ids(server)
        assert results["segments"]["landed"] == len(world_change_ids(server))
        payload = raw_versions(clean_warehouse, "segment_memberships", "mautic")["payload"].iloc[0]
        assert payload["is_member"] is True and payload["segment_id"] and payload["segment_alias"]
        core = assert_core_matches_world(server, clean_warehouse)
        assert core["is_member"].all() and len(core) > 20
        # The first run also lists every segment's members (one page each here): the log showed them all.
        members = int(world_memberships(server)["is_member"].sum())
        assert results["segments"]["reconciled"] == {
            "members": members,
            "added": 0,
            "removed": 0,
            "landed": 0,
        }
        assert results["segments"]["http"]["requests"] == 1 + results["segments"]["pages"] + len(TAG_NAMES)


def test_changes_between_pulls_reach_core_and_a_rerun_lands_nothing(
    world_dir: Path, clean_warehouse: str
) -> None:
    with sandbox(world_dir) as server:
        pull_all(server, clean_warehouse)
        build_core(clean_warehouse, None)
        done = requests.post(
            server.url + "/_sandbox/mutate",
            json={"segment_adds": 12, "segment_removes": 5, "points": 6},
            timeout=10,
        ).json()
        changed, gained = done["segment_changes"], done["point_changes"]
        results = pull_all(server, clean_warehouse)
        assert results["segments"]["landed"] == changed
        # Not due again for a week: one request for the segment list, then the timeline's pages.
        assert results["segments"]["reconciled"] is None
        assert results["segments"]["http"]["requests"] == 1 + results["segments"]["pages"]
        assert raw_change_ids(clean_warehouse) == world_change_ids(server)
        core = assert_core_matches_world(server, clean_warehouse)
        removed = core[~core["is_member"]]
        assert len(removed) == 5 and removed["removed_at"].notna().all()

        # Point changes are events of their own type in core, with their delta.
        with psycopg.connect(clean_warehouse) as conn:
            points = conn.execute(
                """
                SELECT count(*), min((attributes->>'delta')::int), max((attributes->>'delta')::int)
                FROM core.marketing_events WHERE event_type = 'points_changed'
                """
            ).fetchone()
        assert points == (gained, 5, 5) and gained == 6

        again = pull_all(server, clean_warehouse)
        assert {obj: r["landed"] for obj, r in again.items()} == {obj: 0 for obj in OBJECTS}
        stats = build_core(clean_warehouse, None)
        assert {k: v for k, v in stats.items() if v} == {}
        assert core_memberships(clean_warehouse).equals(core)


def test_a_segment_change_landed_before_its_contact_is_folded_once_the_contact_arrives(
    world_dir: Path, clean_warehouse: str
) -> None:
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, mautic_entry(objects=["segments"]))
        stats = build_core(clean_warehouse, None)
        assert stats["segment_memberships"] == 0
        assert stats["segment_memberships.orphans"] == len(world_memberships(server))
        pull(server, clean_warehouse, mautic_entry(objects=["contacts"]))
        assert_core_matches_world(server, clean_warehouse)


def pull_through_faults(server: SandboxServer, dsn: str) -> None:
    """Contacts and segment changes in small pages; a run stopped by a fault that outlasts its retries
    is simply run again (it resumes where its state stands)."""
    for objects, limit in ((["contacts"], 50), (["segments"], 10)):
        for _ in range(10):
            try:
                pull(server, dsn, mautic_entry(objects=objects, page_limit=limit))
                break
            except ExtractError:
                continue


def test_faults_leave_the_same_tables_as_a_clean_run(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir, faults=",".join(FAULTS)) as server:
        api_segments.change_segments(server.world, adds=8, removes=4)
        pull_through_faults(server, clean_warehouse)
        fired = {f["fault"]: f["fired"] for f in server.stats()["faults"]}
        server.config.faults = []
        # Contacts modified while paging are newer than the pull's window: the next pull takes them.
        pull_through_faults(server, clean_warehouse)
        assert raw_change_ids(clean_warehouse) == world_change_ids(server)
        faulty = assert_core_matches_world(server, clean_warehouse)
    assert sum(fired.values()) > 0
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ops.sync_state, ops.load_batches, ops.core_builds, raw.leads,"
            " raw.segment_memberships, core.segment_memberships, core.lead_sources, core.leads CASCADE"
        )
    with sandbox(world_dir) as server:
        api_segments.change_segments(server.world, adds=8, removes=4)
        pull_through_faults(server, clean_warehouse)
        clean = assert_core_matches_world(server, clean_warehouse)
    # Same world (same seed, same changes), same memberships; only the change times differ.
    columns = ["is_member", "resolved"]
    assert faulty[columns].equals(clean[columns])


def test_the_quality_gate_passes_segment_changes_to_a_validated_build(
    world_dir: Path, clean_warehouse: str
) -> None:
    from smarketing.quality.raw import validate_raw

    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, mautic_entry(objects=["contacts", "segments"]))
        report = validate_raw(clean_warehouse, run_id="segments-gate")
        assert report.success and not report.rejected_batches
        stats = build_core(clean_warehouse, None, validated_only=True)
        assert stats["segment_memberships"] == len(world_memberships(server))


def tagged_members(server: SandboxServer) -> set[tuple[str, str]]:
    """What Mautic lists per segment right now (the sandbox's segments are its contacts' tags)."""
    contacts = server.world.table("mautic.contacts")
    tags = contacts.props["tags"].to_pylist()
    return {
        (str(c), t)
        for c, ts in zip(contacts.ids.tolist(), tags, strict=True)
        for t in (ts or "").split(",")
        if t
    }


def test_reconciliation_catches_what_the_log_never_showed(world_dir: Path, clean_warehouse: str) -> None:
    entry = {"segment_reconcile_hours": 0.0001}
    with sandbox(world_dir) as server:
        pull_all(server, clean_warehouse, **entry)
        build_core(clean_warehouse, None)
        contacts = server.world.table("mautic.contacts")
        tags = contacts.props["tags"].to_pylist()
        # A membership older than the log, and a contact gone from a segment without a log entry (as
        # when a contact or a segment is deleted): only listing the segments shows them.
        bare = next(i for i, t in enumerate(tags) if not t)
        tagged = next(i for i, t in enumerate(tags) if t and "," not in t)
        tags[bare], tags[tagged] = "webinar", None
        contacts.props["tags"] = pa.array(tags, pa.string())
        time.sleep(0.5)
        results = pull_all(server, clean_warehouse, **entry)
        assert results["segments"]["reconciled"]["added"] == 1
        assert results["segments"]["reconciled"]["removed"] == 1
        build_core(clean_warehouse, None)
        core = core_memberships(clean_warehouse)
        assert set(core.index[core["is_member"]]) == tagged_members(server)
        added = core.loc[(str(contacts.ids[bare]), "webinar")]
        assert added["is_member"] and added["added_at"] == added["changed_at"]
        again = pull_all(server, clean_warehouse, **entry)
        assert again["segments"]["reconciled"]["landed"] == 0


def test_listing_a_segment_through_repeated_records_misses_no_member(world_dir: Path) -> None:
    # Every page repeats 3 records (the first page its own first ones): a segment one record longer than
    # a page comes back as one page of limit + 3 entries, more than the total, yet its last member is not
    # in it. Listing by the count of entries stopped there and reconciled the member away as "removed".
    with sandbox(world_dir, faults="duplicate:1") as server:
        members = tagged_members(server)
        auth = server.config.mautic_login, server.config.mautic_password
        client = ApiClient("mautic", credentials(server, "mautic"), auth=BasicAuth(*auth))
        listed = 0
        for alias in TAG_NAMES:
            want = sorted(int(c) for c, t in members if t == alias)
            if len(want) < 2:
                continue
            assert segment_members(client, alias, len(want) - 1) == want, alias
            listed += 1
        client.close()
    assert listed > 0
