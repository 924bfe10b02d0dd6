"""The `smarketing-sandbox` command line: generate the synthetic world and serve it over HTTP.

smarketing-sandbox generate --out DIR [--contacts 2000 --days 180 --seed 7]
smarketing-sandbox serve --port 8765 [--faults 429:0.05,5xx:0.02] [--world DIR]
smarketing-sandbox airflow-setup --mode auto --url http://127.0.0.1:8765   (used by `make airflow`)

A separate command (and package) from `smarketing`: production workers never need the sandbox.
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

app = typer.Typer(
    help="The synthetic CRM / marketing-automation world (demo and tests).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("generate")
def sandbox_generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the exports to.")],
    contacts: Annotated[int, typer.Option("--contacts", min=1)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    days: Annotated[int, typer.Option("--days", min=1)] = 180,
    end: Annotated[
        datetime | None, typer.Option("--end", help="Last instant of the world (UTC); default: a fixed date.")
    ] = None,
) -> None:
    """Write a deterministic synthetic B2B world as CRM-style and marketing-tool-style CSV exports."""
    from smarketing_sandbox.world import DEFAULT_END, generate_world

    end_at = (end or DEFAULT_END).replace(tzinfo=(end or DEFAULT_END).tzinfo or UTC)
    summary = generate_world(out, contacts=contacts, seed=seed, days=days, end=end_at)
    typer.echo(json.dumps(summary, indent=2, default=str, sort_keys=True))


@app.command("serve")
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
    from smarketing.sources.http import RateLimit
    from smarketing_sandbox.server import (
        DEFAULT_HUBSPOT_TOKEN,
        DEFAULT_MAUTIC_PASSWORD,
        SandboxServer,
        ServerConfig,
        load_world,
        parse_faults,
    )

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


@app.command("airflow-setup")
def sandbox_airflow_setup(
    url: Annotated[str, typer.Option("--url", help="Base URL the sandbox API is served on.")],
    mode: Annotated[
        str, typer.Option("--mode", help="auto (on unless real sources are configured), on or off.")
    ] = "auto",
) -> None:
    """Sandbox mode of a local Airflow: write (on) or remove (off) the sandbox's connections and
    source Variables in the metadata DB. Prints the reason, then `on` or `off` as the last line."""
    from smarketing_sandbox.airflow_setup import configure

    try:
        decision = configure(mode, url)
    except ValueError as exc:
        typer.echo(f"sandbox: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"sandbox: {decision.reason}", err=True)
    typer.echo("on" if decision.on else "off")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
