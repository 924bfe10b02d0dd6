"""Whatever the network and the APIs do, raw ends up holding every record version exactly once.

Faults come from the sandbox server (429 bursts, 5xx, slow answers, dropped connections, truncated
and malformed bodies, duplicated records, records modified while paging); kills are real failures:
a dropped network that does not come back, or the warehouse refusing a page's transaction.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.sources.state import ExtractError, read_state
from smarketing_sandbox.server import parse_faults
from tests.integration.sandbox_support import (
    FAST_RETRY,
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

pytestmark = pytest.mark.integration

FAULTS = (
    "429:0.15",
    "5xx:0.1",
    "slow:0.05*1",
    "drop:0.05",
    "truncate:0.05",
    "malformed:0.05",
    "duplicate:0.3",
    "mutate:0.2",
)
RETRIED = {"429", "5xx", "drop", "truncate", "malformed"}
OBJECTS = (
    "leads",
    "companies",
    "owners",
    "deals",
    "sales_activities",
    "lifecycle_history",
    "marketing_events",
)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("faults-world"), contacts=250, days=40)


def reset(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE ops.sync_state, ops.load_batches, " + ", ".join(f"raw.{o}" for o in OBJECTS))


def latest_payloads(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for system in ("hubspot", "mautic"):
        for obj in OBJECTS:
            frame = raw_versions(dsn, obj, system).sort_values("ms", na_position="first")
            for source_id, payload in zip(frame["source_id"], frame["payload"], strict=True):
                out[(f"{system}/{obj}", source_id)] = payload
    return out


def pull_both(server, dsn: str, **entry: Any) -> list[dict[str, Any]]:
    hub = pull(server, dsn, hubspot_entry(**entry))
    ma = pull(server, dsn, mautic_entry(**entry))
    return [*hub.values(), *ma.values()]


@pytest.mark.parametrize(
    "faults", [*FAULTS, ",".join(FAULTS)], ids=[f.split(":")[0] for f in FAULTS] + ["all"]
)
def test_faults_leave_the_same_tables_as_a_clean_run(
    world_dir: Path, clean_warehouse: str, faults: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smarketing.sources.http")
    with sandbox(world_dir, faults=faults) as server:
        results = pull_both(server, clean_warehouse, page_limit=50)
        fired = {f["fault"]: f["fired"] for f in server.stats()["faults"]}
        # Records modified while paging are newer than the pull's window: the next pull takes them.
        server.config.faults = []
        pull_both(server, clean_warehouse, page_limit=50)
        assert_raw_matches(clean_warehouse, "hubspot", expected_hubspot(server.world))
        assert_raw_matches(clean_warehouse, "mautic", expected_mautic(server.world))
        faulty = latest_payloads(clean_warehouse)
        reset(clean_warehouse)
        pull_both(server, clean_warehouse, page_limit=50)
        clean = latest_payloads(clean_warehouse)
        differing = {
            k: (faulty.get(k), clean.get(k))
            for k in set(clean) | set(faulty)
            if clean.get(k) != faulty.get(k)
        }
        assert not differing, f"{len(differing)} record(s) differ, e.g. {next(iter(differing.items()))}"
    assert all(n > 0 for n in fired.values()), f"some faults never fired: {fired}"
    retries = sum(r["http"]["retries"] for r in results)
    logged = caplog.text.count("; retry ")
    assert logged == retries
    if {f.split(":")[0] for f in faults.split(",")} & RETRIED:
        assert retries > 0


def test_a_page_that_never_parses_stops_the_pull_where_it_stood(
    world_dir: Path, clean_warehouse: str
) -> None:
    retry = {**FAST_RETRY, "attempts": 3}
    entry = hubspot_entry(objects=["contacts"], page_limit=40, retry=retry)
    with sandbox(world_dir, faults="malformed:1@/crm/v3/objects/contacts/search+2") as server:
        with pytest.raises(ExtractError) as failure:
            pull(server, clean_warehouse, entry)
        message = str(failure.value)
        assert message.startswith("hubspot/contacts: extraction stopped at cursor {")
        assert '"lo": ' in message and '"hi": ' in message and "malformed JSON" in message
        with psycopg.connect(clean_warehouse) as conn:
            state = read_state(conn, "hubspot", "contacts")
        leads = raw_versions(clean_warehouse, "leads", "hubspot")
        world = expected_hubspot(server.world)["leads"]
        lo = failure.value.cursor["lo"]
        # Two good pages landed, everything modified before the failed page's start, nothing after it;
        # the watermark stands just below that start.
        assert 40 < len(leads) <= 80
        assert set(world[world < lo].index) <= set(leads["source_id"]) and leads["ms"].max() <= lo
        assert state.watermark_ms == lo - 1
        server.config.faults = []
        pull(server, clean_warehouse, entry)
        assert_raw_matches(clean_warehouse, "hubspot", {"leads": expected_hubspot(server.world)["leads"]})


def test_an_activity_page_that_never_parses_names_its_page(world_dir: Path, clean_warehouse: str) -> None:
    entry = mautic_entry(objects=["activity"], page_limit=100, retry={**FAST_RETRY, "attempts": 2})
    with sandbox(world_dir, faults="malformed:1@/api/contacts/activity+3") as server:
        with pytest.raises(
            ExtractError, match=r'^mautic/activity: extraction stopped at cursor \{.*"position": 4'
        ) as failure:
            pull(server, clean_warehouse, entry)
        with psycopg.connect(clean_warehouse) as conn:
            state = read_state(conn, "mautic", "activity")
        assert state.watermark_ms is None and state.cursor["position"] == 4  # the next page to read
        assert len(raw_versions(clean_warehouse, "marketing_events", "mautic")) == 300
        assert failure.value.cursor["position"] == 4
        server.config.faults = []
        result = pull(server, clean_warehouse, entry)["activity"]
        assert result["received"] == len(server.world.table("mautic.activity")) - 300  # resumed at page 4
        assert_raw_matches(
            clean_warehouse, "mautic", {"marketing_events": expected_mautic(server.world)["marketing_events"]}
        )


# -- killed runs --------------------------------------------------------------------------------------
KILL_TRIGGER = """
CREATE TABLE IF NOT EXISTS public.smk_kill (after_batches integer);
CREATE OR REPLACE FUNCTION public.smk_kill_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ops.load_batches) >= (SELECT min(after_batches) FROM public.smk_kill) THEN
        RAISE EXCEPTION 'simulated kill in the middle of a page transaction';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS smk_kill ON ops.sync_state;
CREATE TRIGGER smk_kill BEFORE INSERT OR UPDATE ON ops.sync_state FOR EACH ROW EXECUTE FUNCTION public.smk_kill_check();
"""


@pytest.fixture()
def kill_switch(clean_warehouse: str):
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute(KILL_TRIGGER)
        yield conn
        conn.execute(
            "DROP TRIGGER IF EXISTS smk_kill ON ops.sync_state; DROP TABLE IF EXISTS public.smk_kill"
        )


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("kill-world"), contacts=80, days=20)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kills=st.lists(
        st.tuples(st.sampled_from(["warehouse", "network"]), st.integers(1, 30)), min_size=1, max_size=3
    ),
    changes=st.integers(0, 12),
)
def test_killed_runs_rerun_to_exactly_once(
    tiny_world: Path,
    clean_warehouse: str,
    kill_switch: psycopg.Connection,
    kills: list[tuple[str, int]],
    changes: int,
) -> None:
    reset(clean_warehouse)
    entry = {"page_limit": 15, "retry": {**FAST_RETRY, "attempts": 2}}
    with sandbox(tiny_world) as server:
        for kind, after in kills:
            if kind == "warehouse":
                (landed,) = kill_switch.execute("SELECT count(*) FROM ops.load_batches").fetchone() or (0,)
                kill_switch.execute("INSERT INTO public.smk_kill VALUES (%s)", (int(landed) + after,))
            else:
                server.config.faults = parse_faults(f"drop:1+{after}")
                server.state.config.faults[0].seen = 0
            # A kill point past the end of the run lets it finish: fine too.
            with contextlib.suppress(ExtractError, psycopg.Error):
                pull_both(server, clean_warehouse, **entry)
            kill_switch.execute("DELETE FROM public.smk_kill")
            server.config.faults = []
            server.world.mutate(updates=changes, creates=changes // 4, events=changes)
        pull_both(server, clean_warehouse, **entry)
        assert_raw_matches(clean_warehouse, "hubspot", expected_hubspot(server.world))
        assert_raw_matches(clean_warehouse, "mautic", expected_mautic(server.world))
