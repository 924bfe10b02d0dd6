"""`smarketing sla ...`: the SLA clock by hand — evaluate (or replay) it, send its alerts, ask a deadline.

Wired into the main CLI with `app.add_typer(sla_app, name="sla")`. Commands import their modules lazily
so that `smarketing --help` stays instant.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption

sla_app = typer.Typer(
    help="The SLA: follow-up clocks, breaches and alerts, marketing delivery.", no_args_is_help=True
)

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Read the clock at this moment (ISO 8601, UTC unless an offset is given; default: now). "
        "Touches and stage changes after it are ignored; stored readings newer than it are kept.",
    ),
]


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, sort_keys=True))


def _settings():
    from dataclasses import replace

    from smarketing.config import load_config
    from smarketing.sla.alerts import with_overrides
    from smarketing.sla.settings import settings_from_agreement

    settings = settings_from_agreement(load_config())
    return replace(settings, alerts=with_overrides(settings.alerts))


def _moment(as_of: str | None):
    from smarketing.sla.run import as_utc

    try:
        return as_utc(as_of)
    except ValueError as exc:
        raise typer.BadParameter(f"not a timestamp: {as_of!r}", param_hint="--as-of") from exc


@sla_app.command("evaluate")
def evaluate(
    as_of: AsOfOption = None,
    reevaluate_days: Annotated[
        int,
        typer.Option("--reevaluate-days", min=1, help="Closed clocks of MQLs this recent are re-read too."),
    ] = 30,
    dsn: DsnOption = None,
) -> None:
    """Read every running follow-up clock and the marketing pace; update sla.* (no alerts sent)."""
    from smarketing.sla.run import evaluate_followups, measure_delivery
    from smarketing.warehouse.connection import warehouse_dsn

    target = dsn or warehouse_dsn()
    settings = _settings()
    moment = _moment(as_of)
    _print_json(
        {
            "followups": evaluate_followups(target, settings, moment, reevaluate_days=reevaluate_days),
            "delivery": measure_delivery(target, settings, moment),
        }
    )


@sla_app.command("alert")
def alert(as_of: AsOfOption = None, dsn: DsnOption = None) -> None:
    """Send what is due: new breaches to owners, escalations to managers, delivery behind pace to marketing."""
    from smarketing.sla.run import send_alerts
    from smarketing.warehouse.connection import warehouse_dsn

    _print_json(send_alerts(dsn or warehouse_dsn(), _settings(), _moment(as_of), run_id="cli"))


@sla_app.command("due")
def due(
    start: Annotated[str, typer.Argument(help="Hand-over moment (ISO 8601; UTC unless an offset is given).")],
    within: Annotated[str, typer.Argument(help="Business time allowed, e.g. 4h or 1h30m.")],
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="An owner's time zone (default: the organisation's).")
    ] = None,
) -> None:
    """When a deadline falls on the agreement's business calendar."""
    import pandas as pd

    from smarketing.config import parse_duration
    from smarketing.sla.calendar import BusinessCalendar

    settings = _settings()
    calendar = BusinessCalendar(settings.calendar)
    if timezone:
        calendar = calendar.with_timezone(timezone)
    moment = _moment(start)
    at = calendar.add([moment], pd.Timedelta(minutes=parse_duration(within)))[0]
    typer.echo(at.tz_convert(calendar.spec.timezone).isoformat())
