"""`smarketing privacy ...`: erase one person, hash an address, purge past retention (docs/privacy.md).

Wired into the main CLI with `app.add_typer(privacy_app, name="privacy")`. An address given as `-` is
read from standard input, so it stays out of the shell history and the process list.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, key_values

privacy_app = typer.Typer(
    help="Privacy operations: erase a person on request, purge data past its retention.",
    no_args_is_help=True,
)

EmailOption = Annotated[
    str | None,
    typer.Option("--email", help="The person's e-mail address, or - to read it from standard input."),
]


def _address(value: str | None) -> str | None:
    return sys.stdin.readline().strip() if value == "-" else value


@privacy_app.command("erase")
def erase_command(
    email: EmailOption = None,
    email_sha256: Annotated[
        str | None,
        typer.Option(
            "--email-sha256", help="Instead of --email: sha256 of the trimmed, lower-cased address."
        ),
    ] = None,
    erase_at_source: Annotated[
        bool,
        typer.Option("--erase-at-source", help="Also delete the person in HubSpot and Mautic (GDPR delete)."),
    ] = False,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove or anonymise one person everywhere in the warehouse; print what changed (no address)."""
    from smarketing.erasure.person import erase_person
    from smarketing.erasure.source import erase_at_source as ask_sources
    from smarketing.warehouse.connection import warehouse_dsn

    result = erase_person(
        dsn or warehouse_dsn(),
        email=_address(email),
        email_sha256=email_sha256,
        requested_by="cli",
        at_source=ask_sources if erase_at_source else None,
    )
    changed = result.summary()
    emit(changed, as_json, lambda: [key_values("Erased (what changed, per table)", _flat(changed))])


@privacy_app.command("hash")
def hash_command(email: EmailOption = "-", as_json: JsonOption = False) -> None:
    """Print the sha256 an erasure is recorded under (what the smarketing_privacy DAG accepts)."""
    from smarketing.erasure.identity import email_hash

    digest = email_hash(_address(email) or "")
    emit({"email_sha256": digest}, as_json, digest)


@privacy_app.command("purge")
def purge_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Count ages from this ISO timestamp (default: now).")
    ] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete raw and quarantined records older than the agreement's privacy.retention_days."""
    from smarketing.config import load_config
    from smarketing.erasure.retention import purge
    from smarketing.erasure.settings import retention_from_agreement
    from smarketing.warehouse.connection import warehouse_dsn

    moment = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    deleted = purge(dsn or warehouse_dsn(), retention_from_agreement(load_config()), as_of=moment)
    emit(deleted, as_json, lambda: [key_values("Deleted past retention", _flat(deleted))])


def _flat(data: object, prefix: str = "") -> list[tuple[str, object]]:
    """Nested counts as (dotted key, value) rows."""
    if not isinstance(data, dict):
        return [(prefix, data)]
    return [
        row
        for key, value in data.items()
        for row in _flat(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    ]
