"""HubSpot form submissions against the sandbox API on a loopback port and a real PostgreSQL warehouse."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
import requests

from smarketing.sandbox.api_world import ApiWorld, form_id
from smarketing.sandbox.vocab import FORM_PAGES
from smarketing.sources.sync import read_state
from tests.integration.sandbox_support import (
    assert_raw_matches,
    hubspot_entry,
    make_world,
    pull,
    raw_versions,
    sandbox,
)
from tests.integration.test_extract_faults import FAULTS

pytestmark = pytest.mark.integration

# Small pages, so even a small world's forms take several pages each.
ENTRY = hubspot_entry(objects=["form_submissions"], page_limit=4)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("forms-world"), contacts=200, days=40)


def expected_submissions(world: ApiWorld) -> pd.Series:
    """The source id of every submission the world holds (versions are not checked: -1)."""
    table = world.table("hubspot.form_submissions")
    emails = [(e or "").strip().lower() for e in table.props["email"].to_pylist()]
    digests = [hashlib.sha256(e.encode()).hexdigest()[:16] if e else "-" for e in emails]
    ids = [
        f"{form}:{ms}:{digest}"
        for form, ms, digest in zip(
            table.props["form_id"].to_pylist(), table.modified.tolist(), digests, strict=True
        )
    ]
    return pd.Series(np.full(len(ids), -1), index=ids)


def assert_all_landed(dsn: str, world: ApiWorld) -> pd.DataFrame:
    expected = expected_submissions(world)
    assert expected.index.is_unique, "the world holds two submissions with one id"
    counts = assert_raw_matches(dsn, "hubspot", {"marketing_events": expected})
    assert counts["marketing_events"] == len(world.table("hubspot.form_submissions"))
    return raw_versions(dsn, "marketing_events", "hubspot")


def _landed_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        (n,) = conn.execute("SELECT coalesce(sum(row_count), 0) FROM ops.load_batches").fetchone() or (0,)
    return int(n)


def test_the_sandbox_serves_hubspots_form_shapes(world_dir: Path) -> None:
    with sandbox(world_dir) as server:
        headers = {"Authorization": f"Bearer {server.config.hubspot_token}"}
        listed = requests.get(f"{server.url}/marketing/v3/forms", params={"limit": 2}, headers=headers).json()
        assert [f["formType"] for f in listed["results"]] == ["hubspot", "hubspot"]
        assert listed["paging"]["next"]["after"] == "2"
        guid = form_id(FORM_PAGES[0].url)
        path = f"{server.url}/form-integrations/v1/submissions/forms/{guid}"
        page = requests.get(path, params={"limit": 3}, headers=headers).json()
        times = [r["submittedAt"] for r in page["results"]]
        assert times == sorted(times, reverse=True) and all(isinstance(t, int) for t in times)
        first = page["results"][0]
        assert {"conversionId", "submittedAt", "values", "pageUrl"} <= set(first)
        assert {v["name"] for v in first["values"]} >= {"email"}
        assert first["pageUrl"].endswith(FORM_PAGES[0].url)
        assert requests.get(path, params={"limit": 51}, headers=headers).status_code == 400
        assert requests.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_full_incremental_and_repeated_pulls_land_every_submission_once(
    world_dir: Path, clean_warehouse: str
) -> None:
    with sandbox(world_dir) as server:
        first = pull(server, clean_warehouse, ENTRY)["form_submissions"]
        world = server.world
        events = assert_all_landed(clean_warehouse, world)
        assert first["landed"] == len(world.table("hubspot.form_submissions"))
        assert first["forms"] == len(FORM_PAGES) and first["pages"] > first["forms"]
        payload = events["payload"].iloc[0]
        assert payload["event_type"] == "form_submission" and payload["occurred_at"]
        assert {"form_id", "form_name", "page_url", "email_sha256", "contact"} <= set(payload["attributes"])
        # Resolved submissions name a CRM contact; the others are kept, marked, for core to count.
        contacts = {str(i) for i in world.table("hubspot.contacts").ids.tolist()}
        matched = events["payload"].map(lambda p: p["attributes"]["contact"] == "matched")
        assert events.loc[matched, "payload"].map(lambda p: p["lead_source_id"] in contacts).all()
        assert events.loc[~matched, "payload"].map(lambda p: p["lead_source_id"] is None).all()
        assert (events.loc[matched, "ms"].notna()).all() and events.loc[~matched, "ms"].isna().all()
        with psycopg.connect(clean_warehouse) as conn:
            state = read_state(conn, "hubspot", f"form_submissions.{form_id(FORM_PAGES[0].url)}")
        assert state.watermark_ms is not None and state.cursor == {}

        before = _landed_rows(clean_warehouse)
        server.world.add_activity(40, kinds=("form.submitted", "page.hit"))
        added = len(server.world.table("hubspot.form_submissions")) - first["landed"]
        again = pull(server, clean_warehouse, ENTRY)["form_submissions"]
        assert_all_landed(clean_warehouse, server.world)
        assert added > 0 and again["landed"] == added == _landed_rows(clean_warehouse) - before
        # Only the newest pages were read: each form stopped at its watermark (minus the overlap).
        assert again["received"] < first["received"]

        assert pull(server, clean_warehouse, ENTRY)["form_submissions"]["landed"] == 0
        assert _landed_rows(clean_warehouse) == before + added


def test_a_submission_resolved_later_lands_once_more_resolved(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        pull(server, clean_warehouse, ENTRY)
        events = raw_versions(clean_warehouse, "marketing_events", "hubspot")
        unmatched = events[events["payload"].map(lambda p: p["attributes"]["contact"] == "unmatched")]
        assert not unmatched.empty, "the world should have submissions by people the CRM does not know"
        # The CRM gets a contact for one submitter (as HubSpot does moments after a submission).
        target = unmatched.iloc[0]
        table = server.world.table("hubspot.form_submissions")
        digest = target["payload"]["attributes"]["email_sha256"]
        email = next(e for e in table.props["email"].to_pylist() if e and _digest(e) == digest)
        _add_crm_contact(server.world, email)
        # HubSpot creates the contact moments after a submission, so the overlap reads it again; this
        # world's submissions are older than any overlap, so a backfill reads it again here.
        again = pull(server, clean_warehouse, ENTRY, since="2000-01-01")["form_submissions"]
        resolved = raw_versions(clean_warehouse, "marketing_events", "hubspot")
        versions = resolved[resolved["source_id"] == target["source_id"]]
        by_submitter = sum(1 for e in table.props["email"].to_pylist() if e and _digest(e) == digest)
        assert again["landed"] == by_submitter and len(versions) == 2
        latest = versions.sort_values("ms", na_position="first").iloc[-1]["payload"]
        assert latest["attributes"]["contact"] == "matched" and latest["lead_source_id"] is not None


def _digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _add_crm_contact(world: ApiWorld, email: str) -> None:
    contacts = world.table("hubspot.contacts")
    now = world.now_ms()
    contacts.append(
        np.array([int(contacts.ids.max()) + 1]), np.array([now]), np.array([now]), {"email": [email]}
    )


@pytest.mark.parametrize("faults", [",".join(FAULTS)], ids=["all"])
def test_faults_leave_the_same_tables_and_no_email_in_the_logs(
    world_dir: Path, clean_warehouse: str, faults: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with sandbox(world_dir, faults=faults) as server:
        result = pull(server, clean_warehouse, ENTRY)["form_submissions"]
        fired = {f["fault"]: f["fired"] for f in server.stats()["faults"]}
        # Submissions that arrived while paging (the mutate fault) are newer than the pull's window.
        server.config.faults = []
        pull(server, clean_warehouse, ENTRY)
        assert_all_landed(clean_warehouse, server.world)
        faulty = _latest_payloads(clean_warehouse)
        with psycopg.connect(clean_warehouse, autocommit=True) as conn:
            conn.execute("TRUNCATE ops.sync_state, ops.load_batches, raw.marketing_events")
        pull(server, clean_warehouse, ENTRY)
        assert _latest_payloads(clean_warehouse) == faulty
        emails = [e for e in server.world.table("hubspot.form_submissions").props["email"].to_pylist() if e]
    assert all(n > 0 for n in fired.values()), f"some faults never fired: {fired}"
    assert result["http"]["retries"] > 0 and "retry" in caplog.text
    logged = caplog.text.lower() + " ".join(r.getMessage().lower() for r in caplog.records)
    assert not [e for e in emails if e.lower() in logged]


def _latest_payloads(dsn: str) -> dict[str, Any]:
    frame = raw_versions(dsn, "marketing_events", "hubspot").sort_values("ms", na_position="first")
    return dict(zip(frame["source_id"], frame["payload"], strict=True))
