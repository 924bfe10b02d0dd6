"""Mautic extraction against the sandbox API on a loopback port and a real PostgreSQL warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import psycopg
import pytest

from smarketing.sources.extract import extract
from smarketing.sources.state import read_state
from tests.integration.sandbox_support import (
    assert_raw_matches,
    expected_mautic,
    make_world,
    mautic_entry,
    pull,
    raw_versions,
    sandbox,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("mautic-world"))


def test_full_pull_equals_the_world(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        results = pull(server, clean_warehouse, mautic_entry())
        counts = assert_raw_matches(clean_warehouse, "mautic", expected_mautic(server.world))
        assert counts["leads"] == len(server.world.table("mautic.contacts"))
        assert counts["marketing_events"] == len(server.world.table("mautic.activity"))
    assert results["activity"]["landed"] == counts["marketing_events"]
    events = raw_versions(clean_warehouse, "marketing_events", "mautic")
    types = set(events["payload"].map(lambda p: p["event_type"]))
    assert {"email_sent", "page_view", "pricing_page_view"} <= types
    leads = raw_versions(clean_warehouse, "leads", "mautic")
    sample = leads["payload"].iloc[0]
    assert set(sample["attributes"]) >= {"points", "tags", "stage", "last_active", "firstname"}
    assert leads["payload"].map(lambda p: p["country"] is None or len(p["country"]) == 2).all()


def test_incremental_pulls_land_only_what_changed(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, mautic_entry())
        changed = server.world.mutate(updates=25, creates=4, events=30)
        results = pull(server, clean_warehouse, mautic_entry())
        assert_raw_matches(clean_warehouse, "mautic", expected_mautic(server.world))
        assert results["activity"]["landed"] == changed.events
        assert 0 < results["contacts"]["landed"] <= 25 + changed.created


def test_contacts_sharing_one_second_beyond_a_page_are_read_by_id(
    tmp_path: Path, clean_warehouse: str
) -> None:
    small = make_world(tmp_path / "w", contacts=30, days=10)
    with sandbox(small) as server:
        server.world.create_contacts(450)  # one second, three pages' worth
        pull(server, clean_warehouse, mautic_entry(objects=["contacts"], page_limit=200))
        assert_raw_matches(clean_warehouse, "mautic", {"leads": expected_mautic(server.world)["leads"]})
        with psycopg.connect(clean_warehouse) as conn:
            state = read_state(conn, "mautic", "contacts")
        assert state.cursor == {}
        newest = int(np.max(server.world.table("mautic.contacts").modified))
        assert state.watermark_ms is not None and state.watermark_ms >= newest


def test_oauth2_client_credentials(
    world_dir: Path, clean_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox(world_dir) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_MAUTIC", server.mautic_connection(oauth=True))
        result = extract("mautic", "contacts", dsn=clean_warehouse, entry=mautic_entry())
        assert result["landed"] == len(server.world.table("mautic.contacts"))
        assert server.stats()["counters"]["oauth.tokens"] == 1
        assert "AIRFLOW_CONN_SMARKETING_MAUTIC" in os.environ


def test_wrong_credentials_fail_without_retrying(world_dir: Path, clean_warehouse: str) -> None:
    from smarketing.sources.http import ApiCredentials
    from smarketing.sources.state import ExtractError

    with sandbox(world_dir) as server:
        bad = ApiCredentials(base_url=server.url, login="sandbox", password="wrong-password")
        with pytest.raises(ExtractError, match="HTTP 401"):
            extract("mautic", "contacts", dsn=clean_warehouse, entry=mautic_entry(), credentials=bad)
        assert server.stats()["counters"]["status.401"] == 1
