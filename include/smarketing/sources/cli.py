"""Command line for the API sources (wired into `smarketing` by cli.py).

smarketing extract hubspot [--object contacts ...] [--since 2026-10-01]
smarketing extract mautic  [--object activity]
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
