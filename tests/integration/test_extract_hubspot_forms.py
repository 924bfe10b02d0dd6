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

from smarketing.sources.state import ExtractError, read_state
from smarketing_sandbox.api_world import ApiWorld, form_id
from smarketing_sandbox.vocab import FORM_PAGES
from tests.e2e import conftest as e2e
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

# The e2e fixtures: a migrated Airflow metadata DB, tasks pointed at the test warehouse.
airflow_ready = e2e.airflow_ready
warehouse_env = e2e.warehouse_env

# Small pages, so even a small world's forms take several pages each.
ENTRY = hubspot_entry(objects=["form_submissions"], page_limit=2)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("forms-world"), contacts=300, days=60)


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
        # HubSpot makes every submitter a contact: each submission names its contact, as an event.
        contacts = {str(i) for i in world.table("hubspot.contacts").ids.tolist()}
        assert events["payload"].map(lambda p: p["lead_source_id"] in contacts).all()
        assert events["payload"].map(lambda p: p["attributes"]["contact"] == "matched").all()
        assert events["ms"].isna().all()  # immutable: no version, de-duplicated on the id
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


def test_submissions_of_deleted_and_unknown_contacts_are_kept(world_dir: Path, clean_warehouse: str) -> None:
    entry = hubspot_entry(objects=["contacts", "form_submissions"], page_limit=2)
    with sandbox(world_dir) as server:
        world = server.world
        # Some submitters' contacts were deleted: the batch read no longer finds them, raw still does.
        deleted = _archive_submitters(world, 3)
        # Someone HubSpot has no contact for (a form that creates none), and a submission with no e-mail.
        strangers = _add_submissions(world, ["Stranger@Nowhere.example", None])
        result = pull(server, clean_warehouse, entry)["form_submissions"]
        assert result["without_email"] == 1
        events = raw_versions(clean_warehouse, "marketing_events", "hubspot")
        assert len(events) == len(world.table("hubspot.form_submissions")) - 1
        by_lead = events.set_index("source_id")["payload"]
        stranger = by_lead[[i for i in by_lead.index if i.startswith(strangers[0])]]
        assert len(stranger) == 1 and stranger.iloc[0]["lead_source_id"] is None
        assert stranger.iloc[0]["attributes"]["contact"] == "unmatched"
        assert stranger.iloc[0]["attributes"]["email_sha256"] == _digest("stranger@nowhere.example")
        leads = set(events["payload"].map(lambda p: p["lead_source_id"]))
        assert deleted <= leads


def _digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _archive_submitters(world: ApiWorld, count: int) -> set[str]:
    contacts, submissions = world.table("hubspot.contacts"), world.table("hubspot.form_submissions")
    submitters = {(e or "").lower() for e in submissions.props["email"].to_pylist()}
    emails = [(e or "").lower() for e in contacts.props["email"].to_pylist()]
    rows = [i for i, e in enumerate(emails) if e in submitters][:count]
    assert contacts.archived_at is not None
    contacts.archived_at[rows] = world.now_ms() - 60_000
    contacts.changed()
    return {str(i) for i in contacts.ids[rows].tolist()}


def _add_submissions(world: ApiWorld, emails: list[str | None]) -> list[str]:
    """Submissions to the first form, a minute ago; returns the start of their source ids."""
    table = world.table("hubspot.form_submissions")
    n, at = len(emails), world.now_ms() - 60_000
    guid = form_id(FORM_PAGES[0].url)
    table.append(
        np.arange(n) + int(table.ids.max()) + 1,
        np.full(n, at),
        np.full(n, at),
        {
            "form_id": [guid] * n,
            "page_url": ["https://www.sandbox-company.example/contact"] * n,
            "email": emails,
        },
    )
    return [f"{guid}:{at}:" for _ in emails]


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


def test_core_takes_resolved_submissions_and_counts_the_others(world_dir: Path, clean_warehouse: str) -> None:
    from smarketing.warehouse.core_build import build_core

    with sandbox(world_dir) as server:
        _add_submissions(server.world, ["stranger@nowhere.example"])
        pull(server, clean_warehouse, hubspot_entry(objects=["contacts", "form_submissions"]))
    events = raw_versions(clean_warehouse, "marketing_events", "hubspot")
    matched = int(events["payload"].map(lambda p: p["attributes"]["contact"] == "matched").sum())
    stats = build_core(clean_warehouse, None)
    with psycopg.connect(clean_warehouse) as conn:
        (in_core,) = conn.execute(
            "SELECT count(*) FROM core.marketing_events WHERE event_type = 'form_submission'"
        ).fetchone() or (0,)
    assert matched == len(events) - 1
    assert in_core == matched and stats["marketing_events.orphans"] == len(events) - matched


def test_form_submissions_are_off_by_default_and_mapped_when_listed() -> None:
    from smarketing.sources.extract import api_tasks
    from smarketing.sources.hubspot.settings import DEFAULT_OBJECTS, HubSpotSettings

    assert "form_submissions" not in DEFAULT_OBJECTS
    assert "form_submissions" not in HubSpotSettings.from_config({"system": "hubspot"}).objects
    tasks = api_tasks([{"system": "hubspot", "objects": ["contacts", "form_submissions"]}])
    assert [t["object"] for t in tasks] == ["contacts", "form_submissions"]


@pytest.mark.e2e
@pytest.mark.xdist_group("airflow")
def test_the_ingest_dag_maps_a_task_for_form_submissions_when_configured(
    airflow_ready: None, warehouse_env: str, world_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pendulum

    with sandbox(world_dir) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", server.hubspot_connection())
        entry = hubspot_entry(objects=["contacts", "form_submissions"])
        conf = {"file_sources": [], "api_sources": [entry]}
        states = e2e.run_dag("smarketing_ingest", run_conf=conf, logical_date=pendulum.now("UTC"))
        assert states.pop("land_file_source") == "skipped"
        assert set(states.values()) == {"success"}, states
        assert [k for k in states if k.startswith("extract_api_object[")] == [
            "extract_api_object[0]",
            "extract_api_object[1]",
        ]
        assert_all_landed(warehouse_env, server.world)
    with psycopg.connect(warehouse_env) as conn:
        (in_core,) = conn.execute(
            "SELECT count(*) FROM core.marketing_events WHERE event_type = 'form_submission'"
        ).fetchone() or (0,)
    assert in_core > 0


def test_a_killed_pull_keeps_the_watermark_and_the_rerun_lands_the_rest_once(
    world_dir: Path, clean_warehouse: str
) -> None:
    guid = form_id(FORM_PAGES[0].url)
    entry = {**ENTRY, "retry": {**ENTRY["retry"], "attempts": 2}}
    # The form's first page comes through, every later one is cut short: the pull dies on page two.
    with sandbox(world_dir, faults=f"malformed:1@/submissions/forms/{guid}+1") as server:
        with pytest.raises(ExtractError, match=rf"^hubspot/form_submissions\.{guid}: .*\"position\": \"2\""):
            pull(server, clean_warehouse, entry)
        landed = raw_versions(clean_warehouse, "marketing_events", "hubspot")
        with psycopg.connect(clean_warehouse) as conn:
            state = read_state(conn, "hubspot", f"form_submissions.{guid}")
        assert len(landed) == 2 and state.watermark_ms is None
        server.config.faults = []
        rerun = pull(server, clean_warehouse, entry)["form_submissions"]
        assert_all_landed(clean_warehouse, server.world)
        assert rerun["landed"] == len(server.world.table("hubspot.form_submissions")) - 2
