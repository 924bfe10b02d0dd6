"""`smarketing sla ...`: the SLA clock by hand — evaluate (or replay) it, send its alerts, list what is
due now, compute a deadline.

Wired into the main CLI with `app.add_typer(sla_app, name="sla")`. Commands import their modules lazily
so that `smarketing --help` stays instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, table

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
    as_json: JsonOption = False,
) -> None:
    """Read every running follow-up clock and the marketing pace; update sla.* (no alerts sent)."""
    from smarketing.sla.run import evaluate_followups, measure_delivery
    from smarketing.warehouse.connection import warehouse_dsn

    target = dsn or warehouse_dsn()
    settings = _settings()
    moment = _moment(as_of)
    result = {
        "followups": evaluate_followups(target, settings, moment, reevaluate_days=reevaluate_days),
        "delivery": measure_delivery(target, settings, moment),
    }
    emit(result, as_json, lambda: _evaluation_lines(result))


def _evaluation_lines(result: dict) -> list:
    from smarketing.tasklog import count, moment

    f = result["followups"]
    states = sorted(set(f["status"]) | set(f["accept_status"]))
    clocks = table(
        f"SLA clocks read at {moment(f['as_of'])}: {count(f['evaluated'], 'follow-up')} in the window, "
        f"{count(f['written'])} changed, {count(f['new_breaches'], 'new breach', 'new breaches')}",
        ("clock", *(f">{s}" for s in states)),
        (
            ("first touch", *(count(f["status"].get(s, 0)) for s in states)),
            ("accept", *(count(f["accept_status"].get(s, 0)) for s in states)),
        ),
    )
    delivery = table(
        "Marketing delivery (MQLs against the agreement's targets)",
        ("month", "segment", ">target", ">delivered", ">accepted", ">expected to date", "status"),
        (
            (
                str(r["period"])[:7],
                r["segment"],
                count(r["target"]),
                count(r["delivered"]),
                count(r["accepted"]),
                r["expected_to_date"],
                r["status"].replace("_", " "),
            )
            for r in result["delivery"]
        ),
    )
    return [clocks, delivery]


@sla_app.command("alert")
def alert(as_of: AsOfOption = None, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Send what is due: new breaches to owners, escalations to managers, delivery behind pace to marketing.

    Needs the SMTP connection the agreement names (`sla.alerts.smtp_conn_id`, default `smtp_default`);
    without it, says so once and exits 1 (the alerts wait, unsent, for the first run after it exists).
    """
    from smarketing.sla.run import send_alerts
    from smarketing.tasklog import count
    from smarketing.warehouse.connection import warehouse_dsn

    result = send_alerts(dsn or warehouse_dsn(), _settings(), _moment(as_of), run_id="cli")
    if not result.get("configured"):
        emit(result, as_json, "no SLA alert recipients configured (sla.alerts): nothing sent")
        return
    rows = [
        (kind, count(r["messages"]), count(r["rows"]), ", ".join(r["unroutable"]) or "")
        for kind, r in result.items()
        if isinstance(r, dict)
    ]
    emit(
        result,
        as_json,
        lambda: [table("SLA alerts sent", ("alert", ">messages", ">items", "no address for"), rows)],
    )


@sla_app.command("deadline")
def deadline(
    start: Annotated[str, typer.Argument(help="Hand-over moment (ISO 8601; UTC unless an offset is given).")],
    within: Annotated[str, typer.Argument(help="Business time allowed, e.g. 4h or 1h30m.")],
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="An owner's time zone (default: the organisation's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Deadline calculator: when `within` business time after `start` ends on the agreement's calendar
    (its business hours, days and holidays), on the owner's wall clock. Touches no database."""
    import pandas as pd

    from smarketing.config import parse_duration
    from smarketing.sla.calendar import BusinessCalendar

    settings = _settings()
    calendar = BusinessCalendar(settings.calendar)
    if timezone:
        calendar = calendar.with_timezone(timezone)
    moment = _moment(start)
    at = calendar.add([moment], pd.Timedelta(minutes=parse_duration(within)))[0]
    local = at.tz_convert(calendar.spec.timezone).isoformat()
    emit({"start": moment.isoformat(), "within": within, "deadline": local}, as_json, local)


@sla_app.command("due")
def due(
    within: Annotated[
        str,
        typer.Option("--within", help="Also list clocks due in this much wall time from now, e.g. 4h, 2d."),
    ] = "24h",
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this owner's follow-ups (owner id).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows listed at most.")] = 50,
    as_of: AsOfOption = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """What is due now: every running clock (first touch, then accept) that is overdue or due within
    `--within`, most urgent first, from the clocks as last read (`sla evaluate` / the hourly DAG)."""
    from smarketing.config import parse_duration
    from smarketing.sla.due import due_clocks
    from smarketing.warehouse.connection import warehouse_dsn

    try:
        horizon = parse_duration(within)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--within") from None
    now = _moment(as_of).to_pydatetime()
    rows = due_clocks(dsn or warehouse_dsn(), now, horizon_minutes=horizon, owner=owner, limit=limit)
    data = {"as_of": now.isoformat(), "within_minutes": horizon, "due": rows}
    emit(data, as_json, lambda: [_due_table(rows, now, horizon, limit)])


def _due_table(rows: list[dict], now, horizon: int, limit: int):
    from datetime import timedelta

    from smarketing.tasklog import age, moment

    read = f"clocks as read at {moment(rows[0]['evaluated_at'])}" if rows else "nothing due"
    return table(
        f"Due by {moment(now + timedelta(minutes=horizon))}: {len(rows)} shown (at most {limit}); {read}",
        ("lead", "owner", "tier", "clock", "due", "", "status"),
        (
            (
                r["lead_id"],
                r["owner_id"] or "(unassigned)",
                r["tier"],
                r["clock"].replace("_", " "),
                moment(r["due_at"]),
                age(r["due_at"], now).replace(" ago", " overdue"),
                r["status"].replace("_", " "),
            )
            for r in rows
        ),
    )
