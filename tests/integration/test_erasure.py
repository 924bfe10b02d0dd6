"""Erasing one person from a warehouse the pipelines filled from the live sandbox (HubSpot and Mautic
pulled through their APIs, the quality gate, core, scoring, SLA clocks, nurturing pushed to the sandbox,
KPIs): afterwards no table of any schema holds any of their addresses in any spelling, every other
person's rows and every KPI aggregate are as they were, a rerun changes nothing, the next incremental
pull does not bring them back, and with --erase-at-source the sandbox no longer holds them."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from smarketing.config import load_config
from smarketing.erasure.identity import email_hash
from smarketing.erasure.person import erase_person
from smarketing.erasure.source import erase_at_source
from smarketing.kpi.build import build_kpis, table_checksums
from smarketing.kpi.settings import settings_from_agreement as kpi_settings
from smarketing.nurture.tasks import run_all
from smarketing.quality.raw import validate_raw
from smarketing.scoring.model import compile_model
from smarketing.scoring.runner import run_scoring
from smarketing.sla.run import evaluate_followups
from smarketing.sla.settings import settings_from_agreement as sla_settings
from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.mautic.hook import MauticHook
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import land_batch
from smarketing_sandbox.api_world import ApiWorld, iso_ms
from smarketing_sandbox.server import SandboxServer, ServerConfig
from tests.conftest import SERVER_DSN
from tests.integration.erasure_support import address_traces, fingerprint
from tests.integration.sandbox_support import (
    HUBSPOT_TOKEN,
    MAUTIC_PASSWORD,
    credentials,
    hubspot_entry,
    make_world,
    mautic_entry,
    pull,
)

pytestmark = pytest.mark.integration

PERSON_TABLES = (
    "raw.marketing_events",
    "raw.sales_activities",
    "raw.lifecycle_history",
    "raw.segment_memberships",
)


@dataclass
class Filled:
    dsn: str
    server: SandboxServer


def ingest(server: SandboxServer, dsn: str, run: str) -> None:
    """One ingest run as the DAG makes it: pull both systems, the quality gate, fold into core."""
    pull(server, dsn, hubspot_entry())
    pull(server, dsn, mautic_entry())
    validate_raw(dsn, run_id=run)
    build_core(dsn, load_config(), validated_only=True)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    world_dir = make_world(tmp_path_factory.mktemp("world"), contacts=400, days=60)
    dsn = with_database(SERVER_DSN, f"smk_test_erasure_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    config = ServerConfig(hubspot_token=HUBSPOT_TOKEN, mautic_password=MAUTIC_PASSWORD)
    # housekeeping: some contacts deleted and as many merged into another, as a CRM has
    with (
        SandboxServer(ApiWorld.load(world_dir, housekeeping=True), config) as server,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("AIRFLOW_CONN_SMARKETING_MAUTIC", server.mautic_connection())
        env.setenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", server.hubspot_connection())
        ingest(server, dsn, "erasure-ingest-1")
        agreement, as_of = load_config(), datetime.now(UTC)
        run_scoring(dsn, compile_model(agreement), run_id="erasure-test", as_of=as_of, full=True)
        evaluate_followups(dsn, sla_settings(agreement), as_of)
        run_all(dsn, agreement, run_id="erasure-test", as_of=as_of)
        build_kpis(dsn, kpi_settings(agreement), as_of=as_of)
        yield Filled(dsn, server)
    drop_database(dsn)


def pick_person(conn: psycopg.Connection, *, merged: bool) -> tuple[int, str]:
    """A live lead with records in both systems and events; with `merged`, one that absorbed a merge."""
    merge_test = (
        "EXISTS (SELECT 1 FROM core.lead_sources s JOIN core.lead_merges m"
        " ON m.source_system = s.source_system AND m.survivor_source_id = s.source_id WHERE s.lead_id = l.lead_id)"
    )
    row = conn.execute(
        f"""
        SELECT l.lead_id, l.email_normalized FROM core.leads l
        WHERE l.deleted_at IS NULL AND l.email_normalized IS NOT NULL
          AND EXISTS (SELECT 1 FROM core.lead_sources s WHERE s.lead_id = l.lead_id AND s.source_system = 'mautic')
          AND EXISTS (SELECT 1 FROM core.lead_sources s WHERE s.lead_id = l.lead_id AND s.source_system = 'hubspot')
          AND EXISTS (SELECT 1 FROM core.marketing_events e WHERE e.lead_id = l.lead_id)
          AND {"" if merged else "NOT"} {merge_test}
        ORDER BY l.lead_id LIMIT 1
        """
    ).fetchone()
    assert row is not None, "the sandbox world should hold such a person"
    return int(row[0]), str(row[1])


def records_of(conn: psycopg.Connection, leads: set[int]) -> list[tuple[str, str]]:
    """The leads' source records and the records merged into them (by the core's own tables)."""
    return conn.execute(
        """
        SELECT source_system, source_id FROM core.lead_sources WHERE lead_id = ANY(%(l)s)
        UNION
        SELECT m.source_system, m.source_id FROM core.lead_merges m
        JOIN core.lead_sources s ON s.source_system = m.source_system AND s.source_id = m.survivor_source_id
        WHERE s.lead_id = ANY(%(l)s)
        """,
        {"l": sorted(leads)},
    ).fetchall()


def addresses_of(conn: psycopg.Connection, records: list[tuple[str, str]]) -> set[str]:
    """Every address any landed version of the records ever carried, normalised."""
    found = conn.execute(
        "SELECT DISTINCT lower(btrim(payload->>'email')) FROM raw.leads"
        " WHERE (source_system, source_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
        " AND payload->>'email' LIKE '%%@%%'",
        ([s for s, _ in records], [i for _, i in records]),
    ).fetchall()
    return {a for (a,) in found}


def person_of(conn: psycopg.Connection, lead_id: int) -> tuple[set[int], list[tuple[str, str]], set[str]]:
    """Everything that is the same person as the lead, by the warehouse's identity rules: its records,
    the records merged into them, their addresses, and every lead keyed by one of those addresses."""
    leads = {lead_id}
    while True:
        records = records_of(conn, leads)
        addresses = addresses_of(conn, records)
        more = {
            i
            for (i,) in conn.execute(
                "SELECT lead_id FROM core.leads WHERE email_normalized = ANY(%s)", (sorted(addresses),)
            )
        }
        if more <= leads:
            return leads, records, addresses
        leads |= more


def about_the_person(conn: psycopg.Connection, leads: list[int], records: list[tuple[str, str]]) -> dict:
    """Per table, the condition selecting the person's rows (left out when comparing everyone else's)."""
    keys = sql.SQL("(SELECT * FROM unnest({}::text[], {}::text[]))").format(
        sql.Literal([s for s, _ in records]), sql.Literal([i for _, i in records])
    )
    ids = sql.Literal(leads)
    skip: dict[str, sql.Composable] = {
        "raw.leads": sql.SQL("(source_system, source_id) IN {}").format(keys),
        "core.lead_sources": sql.SQL("(source_system, source_id) IN {}").format(keys),
        "dq.quarantine": sql.SQL(
            "(source_system, source_id) IN {} OR payload->>'lead_source_id' IS NOT NULL"
        ).format(keys),
        "ops.erasures": sql.SQL("true"),
        "ops.erased_identities": sql.SQL("true"),
        "core.companies": sql.SQL("attributes ? 'account_note'"),
    }
    for name in PERSON_TABLES:
        skip[name] = sql.SQL("(source_system, payload->>'lead_source_id') IN {}").format(keys)
    for schema, table in conn.execute(
        "SELECT table_schema, table_name FROM information_schema.columns WHERE column_name = 'lead_id'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall():
        skip[f"{schema}.{table}"] = sql.SQL("lead_id = ANY({}::bigint[])").format(ids)
    return skip


def plant_variants(conn: psycopg.Connection, records: list[tuple[str, str]], address: str) -> None:
    """The address where no key leads: a landed version spelled in capitals with spaces around, a
    quarantined copy of it, and a note on a company record that mentions it."""
    system, source_id = next(r for r in records if r[0] == "hubspot")
    shouted = f"  {address.upper()} "
    frame = pd.DataFrame({"source_id": [source_id], "payload": [json.dumps({"email": shouted})]})
    batch = land_batch(conn, source_system=system, object="leads", origin="erasure test", rows=[frame])
    assert batch is not None
    conn.execute(
        "INSERT INTO dq.quarantine (table_name, batch_id, record_no, source_system, source_id, failed_checks,"
        " payload, run_id, validation_run_id, last_checked_run_id)"
        " VALUES ('raw.leads', %s, 1, %s, %s, '{leads.created_at}', %s, 't', 0, 't')",
        (batch.batch_id, system, source_id, json.dumps({"email": shouted})),
    )
    conn.execute(
        "UPDATE core.companies SET attributes = attributes || jsonb_build_object('account_note', %s::text)"
        " WHERE company_id = (SELECT min(company_id) FROM core.companies)",
        (f"met {address.title()} at the fair",),
    )
    conn.commit()


def touch_in_sandbox(world: ApiWorld, records: list[tuple[str, str]]) -> None:
    """The person's contacts change at the sources, so the next incremental pull brings them again."""
    for system in ("hubspot", "mautic"):
        ids = [int(i) for s, i in records if s == system]
        table = world.table(f"{system}.contacts")
        with world.lock:
            rows = np.flatnonzero(np.isin(table.ids, ids))
            now = world.now_ms() - world.now_ms() % 1000
            table.modified[rows] = now
            if system == "hubspot":
                stamp = iso_ms(np.full(len(rows), now))
                table.set_props(rows, {"lastmodifieddate": stamp, "hs_lastmodifieddate": stamp})
            table.changed()


def test_erasure_leaves_no_trace_and_survives_the_next_pull(
    filled: Filled, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = filled.dsn
    with psycopg.connect(dsn) as conn:
        lead_id, address = pick_person(conn, merged=True)
        leads, records, addresses = person_of(conn, lead_id)
        assert len(records) >= 3 and len(addresses) >= 2, (records, len(addresses))  # a merged alias
        plant_variants(conn, records, address)
        assert address_traces(conn, addresses)  # the scan finds them before
        skip = about_the_person(conn, sorted(leads), records)
        others, kpis = fingerprint(conn, except_where=skip), table_checksums(conn)

        leads_before = conn.execute("SELECT count(*) FROM core.leads").fetchone()[0]

    result = erase_person(dsn, email=f" {address.upper()}  ", requested_by="test")

    assert result.changed and result.leads == len(leads) and result.source_records == len(records)
    with psycopg.connect(dsn) as conn:
        assert address_traces(conn, addresses) == {}
        assert fingerprint(conn, except_where=skip) == others
        assert table_checksums(conn) == kpis
        assert conn.execute("SELECT count(*) FROM core.leads").fetchone()[0] == leads_before
        erased = conn.execute(
            "SELECT email_normalized, job_title, attributes, deleted_at IS NOT NULL FROM core.leads"
            " WHERE lead_id = ANY(%s)",
            (sorted(leads),),
        ).fetchall()
        assert erased == [(None, None, {}, True)] * len(leads)
        audit = conn.execute("SELECT email_sha256, requested_by, leads FROM ops.erasures").fetchall()
        assert audit == [(email_hash(address), "test", len(leads))]
        whole = fingerprint(conn)

    again = erase_person(dsn, email=address, requested_by="test-rerun")
    assert again.already_erased and not again.changed
    with psycopg.connect(dsn) as conn:
        assert fingerprint(conn) == whole

    touch_in_sandbox(filled.server.world, records)
    with caplog.at_level(logging.INFO, logger="smarketing.warehouse.loading"):
        ingest(filled.server, dsn, "erasure-ingest-2")
    with psycopg.connect(dsn) as conn:
        assert address_traces(conn, addresses) == {}
        assert conn.execute("SELECT count(*) FROM core.leads").fetchone()[0] == leads_before
    assert "records of erased people" in caplog.text  # the sources did send them again


def sandbox_client(server: SandboxServer, system: str) -> ApiClient:
    hook = HubSpotHook if system == "hubspot" else MauticHook
    return hook(credentials=credentials(server, system)).client()


def test_erasure_at_source_deletes_the_contacts_in_both_systems(filled: Filled) -> None:
    dsn, server, world = filled.dsn, filled.server, filled.server.world
    with psycopg.connect(dsn) as conn:
        lead_id, address = pick_person(conn, merged=False)
        _, records, addresses = person_of(conn, lead_id)
    held = {s: {int(i) for t, i in records if t == s} for s in ("hubspot", "mautic")}
    assert all(held.values())
    assert all(np.isin(list(ids), world.table(f"{s}.contacts").ids).all() for s, ids in held.items())

    def ask(found: list[tuple[str, str]]) -> dict:
        return erase_at_source(found, clients=lambda system: sandbox_client(server, system))

    # by the hash alone, as the DAG is asked
    result = erase_person(dsn, email_sha256=email_hash(address), requested_by="dag", at_source=ask)

    assert result.at_source == {s: {"deleted": len(ids), "missing": 0} for s, ids in held.items()}
    for system, ids in held.items():
        assert not np.isin(list(ids), world.table(f"{system}.contacts").ids).any()
    assert not np.isin(list(held["mautic"]), world.table("mautic.activity").links["contact"]).any()
    with psycopg.connect(dsn) as conn:
        assert address_traces(conn, addresses) == {}
        (at_source,) = conn.execute(
            "SELECT at_source FROM ops.erasures WHERE email_sha256 = %s", (email_hash(address),)
        ).fetchone()
        assert at_source == result.at_source

    requests = server.stats()["counters"]["requests"]
    again = erase_person(dsn, email=address, at_source=ask)
    assert not again.changed and server.stats()["counters"]["requests"] == requests
