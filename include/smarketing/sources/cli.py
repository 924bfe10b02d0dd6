"""Command line for the API sources (wired into `smarketing` by cli.py).

smarketing extract hubspot [--object contacts ...] [--since 2026-10-01]
smarketing extract mautic  [--object activity]
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, table

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


def _results_table(results: list[dict]):
    from smarketing.tasklog import count, moment

    return table(
        "Pulled (new = record versions raw did not hold yet; the rest were landed before)",
        ("object", ">received", ">new", ">pages", "watermark", ">requests", ">retries", "error"),
        (
            (
                f"{r['system']}/{r['object']}",
                count(r.get("received", 0)),
                count(r.get("landed", 0)),
                count(r.get("pages", 0)),
                moment(r.get("watermark")),
                count(r.get("http", {}).get("requests", 0)),
                count(r.get("http", {}).get("retries", 0)),
                r.get("error", ""),
            )
            for r in results
        ),
    )


def _extract(
    system: str, objects: list[str] | None, since: str | None, dsn: str | None, as_json: bool
) -> None:
    """Pull each object in turn (a failure does not stop the others), print the JSON results on stdout,
    and exit 1 at the end naming every object that failed."""
    from smarketing.sources.extract import source_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    entry = _configured_entry(system)
    chosen = objects or list(source_settings(system, entry, None).objects)
    results = [_extract_one(system, obj, since=since, dsn=dsn, entry=entry) for obj in chosen]
    emit(results, as_json, lambda: [_results_table(results)])
    failed = [f"{r['system']}/{r['object']}" for r in results if "error" in r]
    if failed:
        typer.echo(f"smarketing extract: failed: {', '.join(failed)} (details above)", err=True)
        raise typer.Exit(1)


@extract_app.command("hubspot")
def extract_hubspot(
    objects: ObjectOption = None,
    since: SinceOption = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pull HubSpot CRM objects (connection `smarketing_hubspot`)."""
    _extract("hubspot", objects, since, dsn, as_json)


@extract_app.command("mautic")
def extract_mautic(
    objects: ObjectOption = None,
    since: SinceOption = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pull Mautic contacts and activity (connection `smarketing_mautic`)."""
    _extract("mautic", objects, since, dsn, as_json)
