"""`smarketing nurture ...`: the nurturing run by hand — see the plan (dry run), run it, show where it stands.

Wired into the main CLI with `app.add_typer(nurture_app, name="nurture")`. Commands import their modules
lazily so that `smarketing --help` stays instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, print_json, show, table

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
    as_json: JsonOption = False,
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
        print_json(result.to_dict())
        return
    show(f"{result.headline()}; nothing sent", _plan_table(result), *_plan_details(result))


def _plan_table(result):
    from smarketing.tasklog import count, listing

    return table(
        "Per scenario",
        ("scenario", ">enter", ">held out", ">skipped", ">leave", "why they leave"),
        (
            (
                name,
                count(result.entries.get(name, {}).get("planned", 0)),
                count(result.entries.get(name, {}).get("held_out", 0)),
                count(result.entries.get(name, {}).get("skipped", 0)),
                count(sum(result.exits.get(name, {}).values())),
                listing(dict(result.exits.get(name, {})), empty=""),
            )
            for name in sorted(set(result.entries) | set(result.exits))
        ),
    )


def _plan_details(result) -> list:
    from smarketing.tasklog import listing

    out = []
    if result.blocked:
        out.append(f"kept out (lead x scenario matches): {listing(result.blocked)}")
    if result.details:
        rows = (
            (d["decision"], d["lead_id"], d["scenario_id"], d["state"] or "", d["why"])
            for d in result.details
        )
        out.append(
            table(
                "Leads (up to --limit per decision)", ("decision", ">lead", "scenario", "state", "why"), rows
            )
        )
    return out


@nurture_app.command("run")
def run_command(
    as_of: AsOfOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Run id (a rerun with the same id sends nothing twice).")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Re-plan every lead (otherwise only those whose inputs changed since the last plan).",
        ),
    ] = False,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan, push to every target, confirm, remove exits, rebuild outcomes (as the DAG does)."""
    from smarketing.config import load_config
    from smarketing.nurture.tasks import run_all
    from smarketing.warehouse.connection import warehouse_dsn

    moment = _moment(as_of)
    result = run_all(
        dsn or warehouse_dsn(),
        load_config(),
        run_id=run_id or f"cli-{moment.isoformat()}",
        as_of=moment,
        full=full,
    )
    emit(
        result, as_json, lambda: [_run_table(result), _standing_table(result["scenarios"], result["mql_30d"])]
    )


def _run_table(result: dict):
    from smarketing.tasklog import listing

    steps = ("push", "confirm", "exits")
    keys = sorted({k for step in steps for k in result[step]})
    return table(
        "Nurturing run per target",
        ("target", *steps),
        ((key, *(listing(result[step].get(key, {}), empty="-") for step in steps)) for key in keys),
    )


def _standing_table(standing: dict, effects: list[dict]):
    from smarketing.tasklog import count

    effect = {e["scenario"]: e for e in effects}
    keys = ("enrolled", "held_out", "exited", "skipped", "waiting")
    return table(
        "Scenarios (enrolled vs the held-out control group: share of MQLs within 30 days)",
        (
            "scenario",
            *(f">{k.replace('_', ' ')}" for k in keys),
            ">MQL enrolled",
            ">MQL held out",
            ">difference",
        ),
        (
            (
                name,
                *(count(counts[k]) for k in keys),
                *_effect_cells(effect.get(name)),
            )
            for name, counts in standing.items()
        ),
    )


def _effect_cells(e: dict | None) -> tuple[str, str, str]:
    if not e or e["difference"] is None:
        return ("-", "-", "-")
    return (f"{e['enrolled_rate']:.1%}", f"{e['held_out_rate']:.1%}", f"{e['difference']:+.1%}")


@nurture_app.command("status")
def status_command(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Per scenario: enrolled, held out, exited, skipped, waiting; and the 30-day MQL effect."""
    from smarketing.nurture.outcomes import effects, standing
    from smarketing.warehouse.connection import warehouse_dsn

    target = dsn or warehouse_dsn()
    data = {"scenarios": standing(target), "mql_30d": effects(target)}
    emit(data, as_json, lambda: [_standing_table(data["scenarios"], data["mql_30d"])])
