"""The nurturing run's steps as the DAG (and `smarketing nurture run`) call them: plain functions that
take the warehouse DSN and return JSON-able summaries (XCom carries counts and target keys only)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from smarketing.config import Agreement
from smarketing.nurture import push as pushing
from smarketing.nurture.ledger import targets_with_work
from smarketing.nurture.outcomes import build_outcomes, effects, finish_run, standing
from smarketing.nurture.plan import plan_run
from smarketing.tasklog import count, listing, moment, summary
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)


def plan_step(
    dsn: str, agreement: Agreement, *, run_id: str, as_of: datetime, dry_run: bool, full: bool = False
) -> dict[str, Any]:
    """Exits and entries at `as_of` (a dry run keeps nothing, and logs who would enter and leave and why;
    `full` re-plans every lead, not only those whose inputs changed)."""
    result = plan_run(dsn, agreement, run_id=run_id, as_of=as_of, dry_run=dry_run, full=full)
    for d in result.details:
        log.info(
            "dry run: %s lead %s %s %s: %s",
            d["decision"],
            d["lead_id"],
            d["scenario_id"],
            d["state"] or "",
            d["why"],
        )
    summary(result.headline())
    return result.to_dict()


def target_keys(dsn: str, *, dry_run: bool) -> list[str]:
    """Targets with something to push, confirm or remove (none for a dry run)."""
    if dry_run:
        summary("nurture targets: none (dry run: nothing is sent)")
        return []
    with connect(dsn) as conn:
        keys = targets_with_work(conn)
    summary(f"nurture targets with work: {', '.join(keys) if keys else 'none'}")
    return keys


def push_step(dsn: str, agreement: Agreement, key: str, *, run_id: str) -> dict[str, int]:
    return pushing.push(dsn, agreement, key, run_id=run_id)


def confirm_step(dsn: str, key: str, *, run_id: str) -> dict[str, int]:
    return pushing.confirm(dsn, key, run_id=run_id)


def exits_step(dsn: str, key: str, *, run_id: str) -> dict[str, int]:
    return pushing.remove_exits(dsn, key, run_id=run_id)


def stats_step(dsn: str, agreement: Agreement, *, run_id: str, as_of: datetime) -> dict[str, Any]:
    """Outcomes rebuilt, the run closed; returns each scenario's standing and its 30-day MQL effect."""
    outcomes = build_outcomes(dsn, agreement, as_of=as_of)
    finish_run(dsn, run_id)
    scenarios = standing(dsn)
    summary(
        f"nurture outcomes as of {moment(as_of)}: {count(outcomes, 'outcome row')} rebuilt; "
        + ("; ".join(f"{name}: {listing(counts)}" for name, counts in scenarios.items()) or "no scenario yet")
    )
    return {"scenarios": scenarios, "mql_30d": effects(dsn), "outcome_rows": outcomes}


def run_all(
    dsn: str, agreement: Agreement, *, run_id: str, as_of: datetime, full: bool = False
) -> dict[str, Any]:
    """Every step in order, one target after the other (the CLI's `nurture run`)."""
    plan = plan_step(dsn, agreement, run_id=run_id, as_of=as_of, dry_run=False, full=full)
    keys = target_keys(dsn, dry_run=False)
    pushed = {key: push_step(dsn, agreement, key, run_id=run_id) for key in keys}
    confirmed = {key: confirm_step(dsn, key, run_id=run_id) for key in keys}
    exited = {key: exits_step(dsn, key, run_id=run_id) for key in keys}
    stats = stats_step(dsn, agreement, run_id=run_id, as_of=as_of)
    return {"plan": plan, "push": pushed, "confirm": confirmed, "exits": exited, **stats}
