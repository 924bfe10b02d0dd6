"""Shared pieces of the API-source tests: a small generated world, a sandbox server, and what raw
should hold once everything the server shows has been pulled."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from smarketing.sources.extract import extract
from smarketing.sources.http import ApiCredentials
from smarketing_sandbox.airflow_setup import API_SOURCES
from smarketing_sandbox.api_world import ENGAGEMENT_OBJECTS, ApiWorld, lifecycle_property
from smarketing_sandbox.server import SandboxServer, ServerConfig, parse_faults
from smarketing_sandbox.world import generate_world

HUBSPOT_TOKEN = "pat-eu1-TEST-SECRET-0a1b2c3d"
MAUTIC_PASSWORD = "mautic-TEST-SECRET-9z8y"
FAST_RETRY = {"attempts": 8, "initial_wait": 0.005, "max_wait": 0.05, "max_retry_after": 0.05}
# Every HubSpot object the pipeline models: the list `make airflow` configures for the sandbox.
HUBSPOT_OBJECTS = tuple(API_SOURCES[0]["objects"])


# A world's content follows the calendar (weekdays, month ends, holidays), so every run in a week builds the
# same worlds: they are dated from the week's start, not from today. The tests derive what they expect from
# the world they generated, so any anchor must pass: SMARKETING_TEST_WORLD_WEEK=YYYY-MM-DD replays the worlds
# anchored at that day (any weekday: which day a world ends on changes its content most). WORLD_END ends
# before the tests run, whatever the clock says: nothing in it is "in the future".
def _week_start(chosen: str | None) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if not chosen:
        return today - timedelta(days=today.weekday())
    try:
        day = datetime.strptime(chosen.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"SMARKETING_TEST_WORLD_WEEK={chosen!r}: expected YYYY-MM-DD") from error
    if day > today:
        # The pulls, the sandbox and the warehouse run on the real clock: a world past today would hold
        # records their windows have not reached yet, and the tests would fail for that, not for its calendar.
        raise ValueError(f"SMARKETING_TEST_WORLD_WEEK={chosen}: a day after today cannot be replayed")
    return day


WEEK_START = _week_start(os.environ.get("SMARKETING_TEST_WORLD_WEEK"))
WORLD_END = WEEK_START - timedelta(days=1)


def make_world(out: Path, *, contacts: int = 300, days: int = 45, seed: int = 11) -> Path:
    generate_world(out, contacts=contacts, seed=seed, days=days, end=WEEK_START)
    return out


@contextmanager
def sandbox(world_dir: Path, *, faults: str | None = None, **config: Any) -> Iterator[SandboxServer]:
    settings = ServerConfig(
        hubspot_token=HUBSPOT_TOKEN, mautic_password=MAUTIC_PASSWORD, faults=parse_faults(faults), **config
    )
    with SandboxServer(ApiWorld.load(world_dir), settings) as server:
        yield server


def hubspot_entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "system": "hubspot",
        "objects": list(HUBSPOT_OBJECTS),
        "lag_seconds": 0,
        "overlap_seconds": 600,
        "retry": FAST_RETRY,
        # HubSpot's real limits (5 searches/s) would make the suite slow; the limiter has its own tests.
        "rate_limits": {"general": [10_000, 1], "search": [10_000, 1]},
    }
    return {**entry, **overrides}


def mautic_entry(**overrides: Any) -> dict[str, Any]:
    return {"system": "mautic", "lag_seconds": 0, "overlap_seconds": 600, "retry": FAST_RETRY, **overrides}


def credentials(server: SandboxServer, system: str) -> ApiCredentials:
    if system == "hubspot":
        return ApiCredentials(base_url=server.url, token=server.config.hubspot_token)
    return ApiCredentials(
        base_url=server.url, login=server.config.mautic_login, password=server.config.mautic_password
    )


def pull(
    server: SandboxServer, dsn: str, entry: Mapping[str, Any], **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """Every object of one source entry, in order; {object: result}."""
    system = str(entry["system"])
    objects = entry.get("objects") or (
        ["contacts", "activity"] if system == "mautic" else list(HUBSPOT_OBJECTS)
    )
    return {
        obj: extract(system, obj, dsn=dsn, entry=entry, credentials=credentials(server, system), **kwargs)
        for obj in objects
    }


# -- what raw holds ---------------------------------------------------------------------------------
def raw_versions(dsn: str, obj: str, source_system: str) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"""
            SELECT source_id, floor(extract(epoch FROM source_updated_at) * 1000)::bigint AS ms, payload
            FROM raw.{obj} WHERE source_system = %s
            """,
            (source_system,),
        ).fetchall()
    return pd.DataFrame(rows, columns=["source_id", "ms", "payload"])


def assert_no_duplicate_versions(frame: pd.DataFrame, label: str) -> None:
    keys = frame["source_id"] + "|" + frame["ms"].astype("string").fillna("-")
    dup = keys[keys.duplicated()]
    assert dup.empty, f"{label}: {len(dup)} record version(s) landed twice, e.g. {dup.head(3).tolist()}"


def latest(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("source_id")["ms"].max()


def expected_hubspot(world: ApiWorld) -> dict[str, pd.Series]:
    """Per raw object: latest modified ms by source id, for every record the API shows (live or archived)."""

    def series(key: str) -> pd.Series:
        table = world.table(f"hubspot.{key}")
        assert table.archived_at is not None
        # An archived record's last version is its archival.
        last = np.where(table.archived_at >= 0, table.archived_at, table.modified)
        return pd.Series(last, index=[str(i) for i in table.ids.tolist()])

    contacts = world.table("hubspot.contacts")
    stages = []
    for prop in [p for p in contacts.props if p.startswith("hs_lifecyclestage_")]:
        stage = prop.removeprefix("hs_lifecyclestage_").removesuffix("_date")
        values = contacts.props[prop].to_pylist()
        for cid, value in zip(contacts.ids.tolist(), values, strict=True):
            if value:
                stages.append(
                    (f"{cid}|{stage}", int(np.datetime64(value.rstrip("Z"), "ms").astype(np.int64)))
                )
    assert lifecycle_property("lead") in contacts.props
    owners = world.table("hubspot.owners")
    return {
        "owners": pd.Series(owners.modified, index=[str(i) for i in owners.ids.tolist()]),
        "companies": series("companies"),
        "leads": series("contacts"),
        "deals": series("deals"),
        "sales_activities": pd.concat([series(name) for name in ENGAGEMENT_OBJECTS.values()]),
        "lifecycle_history": pd.Series(dict(stages)),
    }


def expected_mautic(world: ApiWorld) -> dict[str, pd.Series]:
    contacts = world.table("mautic.contacts")
    activity = world.table("mautic.activity")
    kinds = activity.props["type"].to_pylist()
    return {
        "leads": pd.Series(contacts.modified, index=[str(i) for i in contacts.ids.tolist()]),
        "marketing_events": pd.Series(
            np.full(len(activity), -1),
            index=[f"{k}{i}" for k, i in zip(kinds, activity.ids.tolist(), strict=True)],
        ),
    }


def assert_raw_matches(dsn: str, source_system: str, expected: Mapping[str, pd.Series]) -> dict[str, int]:
    """Every record once per version, every id of the world present, its latest version the world's."""
    counts = {}
    for obj, want in expected.items():
        frame = raw_versions(dsn, obj, source_system)
        assert_no_duplicate_versions(frame, f"{source_system}/{obj}")
        have = latest(frame)
        missing = sorted(set(want.index) - set(have.index))
        extra = sorted(set(have.index) - set(want.index))
        assert not missing, (
            f"{source_system}/{obj}: {len(missing)} record(s) never landed, e.g. {missing[:3]}"
        )
        assert not extra, f"{source_system}/{obj}: {len(extra)} record(s) not in the world, e.g. {extra[:3]}"
        if (want >= 0).any():
            stale = want[(want >= 0) & (have.reindex(want.index) != want)]
            assert stale.empty, f"{source_system}/{obj}: {len(stale)} record(s) not at their latest version"
        counts[obj] = len(have)
    return counts
