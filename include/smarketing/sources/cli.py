"""Command line for the API sources (wired into `smarketing` by cli.py).

smarketing extract hubspot [--object contacts ...] [--since 2026-10-01]
smarketing extract mautic  [--object activity]
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption

log = logging.getLogger(__name__)

extract_app = typer.Typer(
    help="Pull API sources (HubSpot, Mautic) incrementally into raw.*.", no_args_is_help=True
)

ObjectOption = Annotated[
    list[str] | None,
    typer.Option("--object", "-o", help="Object to pull (repeatable; default: every configured one)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Backfill: re-read everything modified since this date (UTC).")
]


def _configured_entry(system: str) -> dict:
    """This system's entry of the configured API sources (the Airflow Variable `smarketing_api_sources`,
    else SMARKETING_API_SOURCES: the DAG's order), else a default one."""
    from smarketing.run_settings import configured_api_sources

    for entry in configured_api_sources(None):
        if entry.get("system") == system:
            return dict(entry)
    return {"system": system}


@contextlib.contextmanager
def _stdout_kept_for_results() -> Iterator[None]:
    """Point file descriptor 1 at stderr while the block runs, then back.

    Airflow's log handlers (configured when a connection is first looked up) write to stdout; the
    command's stdout must carry its JSON alone, so everything printed meanwhile lands on stderr.
    """
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)


def _extract_one(system: str, obj: str, *, since: str | None, dsn: str | None, entry: dict) -> dict:
    """One object's result, or `{"system", "object", "error"}` when its pull failed."""
    from smarketing.privacy import mask_emails
    from smarketing.sources.extract import extract
    from smarketing.warehouse.connection import warehouse_dsn

    try:
        return extract(system, obj, dsn=dsn or warehouse_dsn(), entry=entry, since=since, run_id="cli")
    except Exception as exc:  # the other objects still run; the exit says what failed
        problem = mask_emails(str(exc) or type(exc).__name__)
        log.error("%s/%s failed: %s", system, obj, problem)
        return {"system": system, "object": obj, "error": problem}


def _extract(system: str, objects: list[str] | None, since: str | None, dsn: str | None) -> None:
    """Pull each object in turn (a failure does not stop the others), print the JSON results on stdout,
    and exit 1 at the end naming every object that failed."""
    from smarketing.sources.extract import source_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    entry = _configured_entry(system)
    with _stdout_kept_for_results():
        chosen = objects or list(source_settings(system, entry, None).objects)
        results = [_extract_one(system, obj, since=since, dsn=dsn, entry=entry) for obj in chosen]
    typer.echo(json.dumps(results, indent=2, sort_keys=True, default=str))
    failed = [f"{r['system']}/{r['object']}" for r in results if "error" in r]
    if failed:
        typer.echo(f"smarketing extract: failed: {', '.join(failed)} (details above)", err=True)
        raise typer.Exit(1)


@extract_app.command("hubspot")
def extract_hubspot(objects: ObjectOption = None, since: SinceOption = None, dsn: DsnOption = None) -> None:
    """Pull HubSpot CRM objects (connection `smarketing_hubspot`)."""
    _extract("hubspot", objects, since, dsn)


@extract_app.command("mautic")
def extract_mautic(objects: ObjectOption = None, since: SinceOption = None, dsn: DsnOption = None) -> None:
    """Pull Mautic contacts and activity (connection `smarketing_mautic`)."""
    _extract("mautic", objects, since, dsn)
