"""`smarketing nurture ...`: the nurturing run by hand — see the plan (dry run), run it, show where it stands.

Wired into the main CLI with `app.add_typer(nurture_app, name="nurture")`. Commands import their modules
lazily so that `smarketing --help` stays instant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption

nurture_app = typer.Typer(
    help="Nurturing: scenarios, the enrollment ledger, pushes to the marketing tools.", no_args_is_help=True
)

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Plan as of this moment (ISO 8601, UTC unless an offset is given; default: now)."
    ),
]


def _moment(as_of: str | None) -> datetime:
    from smarketing.sla.run import as_utc

    try:
        return as_utc(as_of).to_pydatetime()
    except ValueError as exc:
        raise typer.BadParameter(f"not a timestamp: {as_of!r}", param_hint="--as-of") from exc


@nurture_app.command("plan")
def plan_command(
    as_of: AsOfOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Leads listed per decision (enter, leave, blocked).")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    dsn: DsnOption = None,
) -> None:
    """Dry run: who would enter and leave which scenario and why. Records nothing, calls no API."""
    from smarketing.config import load_config
    from smarketing.nurture.plan import plan_run
    from smarketing.warehouse.connection import warehouse_dsn

    result = plan_run(
        dsn or warehouse_dsn(),
        load_config(),
        run_id="dry-run",
        as_of=_moment(as_of),
        dry_run=True,
        detail_limit=limit,
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    typer.echo(f"nurturing plan as of {result.as_of.isoformat()} (dry run: nothing recorded, nothing sent)")
    for scenario in sorted(set(result.entries) | set(result.exits)):
        entries, exits = result.entries.get(scenario, {}), result.exits.get(scenario, {})
        typer.echo(
            f"  {scenario}: enter {entries.get('planned', 0)}, held out {entries.get('held_out', 0)}, "
            f"skipped {entries.get('skipped', 0)}; leave {sum(exits.values())} {dict(exits) or ''}".rstrip()
        )
    if result.blocked:
        typer.echo(
            "  kept out (lead x scenario matches): "
            + ", ".join(f"{k} {v}" for k, v in result.blocked.items())
        )
    for d in result.details:
        typer.echo(
            f"  {d['decision']:<7} lead {d['lead_id']:>8}  {d['scenario_id']:<24} {d['state'] or '':<9} {d['why']}"
        )


@nurture_app.command("run")
def run_command(
    as_of: AsOfOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (a rerun with the same id sends nothing twice).")
    ] = None,
    dsn: DsnOption = None,
) -> None:
    """Plan, push to every target, confirm, remove exits, rebuild outcomes (as the DAG does)."""
    from smarketing.config import load_config
    from smarketing.nurture.tasks import run_all
    from smarketing.warehouse.connection import warehouse_dsn

    moment = _moment(as_of)
    result = run_all(
        dsn or warehouse_dsn(), load_config(), run_id=run_id or f"cli-{moment.isoformat()}", as_of=moment
    )
    typer.echo(json.dumps(result, indent=2, default=str))


@nurture_app.command("status")
def status_command(dsn: DsnOption = None) -> None:
    """Per scenario: enrolled, held out, exited, skipped, waiting; and the 30-day MQL effect."""
    from smarketing.nurture.outcomes import effects, standing
    from smarketing.warehouse.connection import warehouse_dsn

    target = dsn or warehouse_dsn()
    effect = {e["scenario"]: e for e in effects(target)}
    for scenario, counts in standing(target).items():
        line = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        e = effect.get(scenario)
        if e and e["difference"] is not None:
            line += (
                f"; MQL within 30 days: enrolled {e['enrolled_rate']:.1%} vs held out {e['held_out_rate']:.1%}"
                f" ({e['difference']:+.1%})"
            )
        typer.echo(f"{scenario}: {line}")
