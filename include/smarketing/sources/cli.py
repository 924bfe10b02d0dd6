"""Command line for the API sources and the sandbox API server (wired into `smarketing` by cli.py).

smarketing extract hubspot [--object contacts ...] [--since 2026-10-01]
smarketing extract mautic  [--object activity]
smarketing sandbox serve --port 8765 [--faults 429:0.05,5xx:0.02] [--world DIR]
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

extract_app = typer.Typer(
    help="Pull API sources (HubSpot, Mautic) incrementally into raw.*.", no_args_is_help=True
)

DsnOption = Annotated[str | None, typer.Option("--dsn", help="Warehouse DSN (default: the usual lookup).")]
ObjectOption = Annotated[
    list[str] | None,
    typer.Option("--object", "-o", help="Object to pull (repeatable; default: every configured one)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Backfill: re-read everything modified since this date (UTC).")
]


def _configured_entry(system: str) -> dict:
    """This system's entry of SMARKETING_API_SOURCES, else a default one."""
    from smarketing.sources.sync import API_SOURCES_ENV

    raw = os.environ.get(API_SOURCES_ENV)
    for entry in json.loads(raw) if raw else []:
        if entry.get("system") == system:
            return dict(entry)
    return {"system": system}


def _extract(system: str, objects: list[str] | None, since: str | None, dsn: str | None) -> None:
    from smarketing.sources.sync import _settings, extract
    from smarketing.warehouse.connection import warehouse_dsn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    entry = _configured_entry(system)
    chosen = objects or list(_settings(system, entry, None).objects)
    results = [
        extract(system, obj, dsn=dsn or warehouse_dsn(), entry=entry, since=since, run_id="cli")
        for obj in chosen
    ]
    typer.echo(json.dumps(results, indent=2, sort_keys=True))


@extract_app.command("hubspot")
def extract_hubspot(objects: ObjectOption = None, since: SinceOption = None, dsn: DsnOption = None) -> None:
    """Pull HubSpot CRM objects (connection `smarketing_hubspot`)."""
    _extract("hubspot", objects, since, dsn)


@extract_app.command("mautic")
def extract_mautic(objects: ObjectOption = None, since: SinceOption = None, dsn: DsnOption = None) -> None:
    """Pull Mautic contacts and activity (connection `smarketing_mautic`)."""
    _extract("mautic", objects, since, dsn)


def sandbox_serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    faults: Annotated[
        str | None,
        typer.Option("--faults", help="Comma-separated faults: kind[:rate][@path][+skip][*count]."),
    ] = None,
    world: Annotated[
        Path | None, typer.Option("--world", help="A generated world to serve (generated there if missing).")
    ] = None,
    contacts: Annotated[int, typer.Option("--contacts", min=1)] = 2000,
    days: Annotated[int, typer.Option("--days", min=1)] = 120,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    end: Annotated[
        datetime | None, typer.Option("--end", help="Last instant of a generated world (UTC).")
    ] = None,
    rate_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--rate-limit", help="bucket=N/SECONDS (hubspot.general, hubspot.search, mautic); repeatable."
        ),
    ] = None,
    indexing_delay: Annotated[
        float, typer.Option("--indexing-delay", help="Seconds before a change is searchable.")
    ] = 0.0,
) -> None:
    """Serve the sandbox world over HubSpot- and Mautic-shaped APIs until interrupted.

    Credentials: HubSpot bearer token and Mautic basic-auth password from SMARKETING_SANDBOX_HUBSPOT_TOKEN /
    SMARKETING_SANDBOX_MAUTIC_PASSWORD (defaults: the documented sandbox values).
    """
    from smarketing.sandbox.server import (
        DEFAULT_HUBSPOT_TOKEN,
        DEFAULT_MAUTIC_PASSWORD,
        SandboxServer,
        ServerConfig,
        load_world,
        parse_faults,
    )
    from smarketing.sources.http import RateLimit

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = {}
    for spec in rate_limit or []:
        bucket, _, value = spec.partition("=")
        limits[bucket.strip()] = RateLimit.parse(value)
    config = ServerConfig(
        hubspot_token=os.environ.get("SMARKETING_SANDBOX_HUBSPOT_TOKEN", DEFAULT_HUBSPOT_TOKEN),
        mautic_password=os.environ.get("SMARKETING_SANDBOX_MAUTIC_PASSWORD", DEFAULT_MAUTIC_PASSWORD),
        rate_limits=limits,
        indexing_delay_s=indexing_delay,
        faults=parse_faults(faults),
        seed=seed,
    )
    end_at = (end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)).replace(tzinfo=UTC)
    api_world = load_world(world, contacts=contacts, days=days, seed=seed, end=end_at)
    server = SandboxServer(api_world, config, host=host, port=port)
    typer.echo(
        f"sandbox API serving on {server.url} (HubSpot: /crm/..., Mautic: /api/...); Ctrl-C stops it",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
