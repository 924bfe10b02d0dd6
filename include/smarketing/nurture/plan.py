"""A nurturing run's plan: the exits and new entries it decides, recorded in `nurture.enrollments`.

Planning is set-based SQL in one transaction (`sql/nurture/`): build the leads' eligibility and matches,
decide exits (`040_exits.sql`), then enter leads (`030_enroll.sql`). The one-running-enrollment index,
the daily cap counted from the ledger and the cooldown make a rerun of the same run plan nothing new.

A dry run does exactly the same work and rolls it back, after reading who would enter and leave and
why: the plan shown is the plan a real run would record, and no API is ever called.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from smarketing.config import Agreement
from smarketing.nurture.matching import create_matches, statement
from smarketing.tasklog import count, moment
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

# One planner at a time per warehouse: two runs planning together could both see a lead as free.
PLAN_LOCK_KEY = 4_242_012


class _DryRun(Exception):
    """Raised inside the planning transaction to roll a dry run back."""


@dataclass
class PlanResult:
    """What one run decided. `entries[scenario][state]` and `exits[scenario][reason]` count leads;
    `blocked` counts (lead, scenario) matches per rule that kept them out; `details` (dry run only)
    lists up to `detail_limit` leads entering, leaving and blocked, with the reason."""

    run_id: str
    as_of: datetime
    dry_run: bool
    entries: dict[str, Counter[str]] = field(default_factory=dict)
    exits: dict[str, Counter[str]] = field(default_factory=dict)
    blocked: Counter[str] = field(default_factory=Counter)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "entries": {k: dict(v) for k, v in sorted(self.entries.items())},
            "exits": {k: dict(v) for k, v in sorted(self.exits.items())},
            "blocked": dict(sorted(self.blocked.items())),
            **({"details": self.details} if self.dry_run else {}),
        }

    def headline(self) -> str:
        """The plan on one line (the task log's summary)."""
        return (
            f"nurture plan as of {moment(self.as_of)}{' (dry run: nothing recorded)' if self.dry_run else ''}: "
            f"{count(self.count('entries'), 'entry', 'entries')} ({count(self.count('entries', 'held_out'))} "
            f"held out as the control group, {count(self.count('entries', 'skipped'))} skipped), "
            f"{count(self.count('exits'), 'exit')}"
        )

    def count(self, section: str, key: str | None = None) -> int:
        data = self.entries if section == "entries" else self.exits
        return sum(n for counts in data.values() for k, n in counts.items() if key is None or k == key)


def plan_run(
    dsn: str,
    agreement: Agreement,
    *,
    run_id: str,
    as_of: datetime,
    dry_run: bool = False,
    detail_limit: int = 200,
) -> PlanResult:
    """Decide the exits and the new entries at `as_of` and record them under `run_id`.

    dsn: the warehouse; agreement: the parsed agreement (its nurturing scenarios and vocabulary);
    as_of: the moment planned for (interests, touches and outcomes up to it; also the entries'
    planned_at); dry_run: compute everything, keep nothing, list the decisions in `details`.
    Returns the counts (and, for a dry run, the details).
    """
    result = PlanResult(run_id=run_id, as_of=as_of, dry_run=dry_run)
    try:
        with connect(dsn) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLAN_LOCK_KEY,))
            params = create_matches(conn, agreement, as_of)
            _decide(conn, params, run_id, result)
            if dry_run:
                result.details = _details(conn, detail_limit)
                raise _DryRun
            _record_run(conn, run_id, as_of)
    except _DryRun:
        pass
    return result


def _decide(conn: psycopg.Connection, params: dict[str, Any], run_id: str, result: PlanResult) -> None:
    for scenario, _arm, state, reason, n in conn.execute(statement("040_exits"), params).fetchall():
        result.exits.setdefault(scenario, Counter())[
            reason if state != "skipped" else f"skipped:{reason}"
        ] += n
    for scenario, _arm, state, n in conn.execute(statement("030_enroll"), {**params, "run_id": run_id}):
        result.entries.setdefault(scenario, Counter())[state] += n
    for rule, n in conn.execute(
        "SELECT split_part(blocked_by, ':', 1), count(*) FROM nurture_matches "
        "WHERE blocked_by IS NOT NULL GROUP BY 1"
    ):
        result.blocked[rule] = n


def _details(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """Who enters, leaves or is kept out, and why (rows this transaction wrote have updated_at = now())."""
    rows = conn.execute(
        """
        (SELECT 'enter' AS decision, lead_id, scenario_id, state, matched AS why
         FROM nurture.enrollments WHERE updated_at = now() AND exit_planned_at IS NULL
         ORDER BY scenario_id, lead_id LIMIT %(limit)s)
        UNION ALL
        (SELECT 'leave', lead_id, scenario_id, state, COALESCE(exit_reason, skip_reason)
         FROM nurture.enrollments WHERE updated_at = now() AND exit_planned_at IS NOT NULL
         ORDER BY scenario_id, lead_id LIMIT %(limit)s)
        UNION ALL
        (SELECT 'blocked', lead_id, scenario_id, NULL, blocked_by
         FROM nurture_matches WHERE blocked_by IS NOT NULL AND blocked_by NOT LIKE 'in_scenario:%%'
         ORDER BY scenario_id, lead_id LIMIT %(limit)s)
        """,
        {"limit": limit},
    ).fetchall()
    keys = ("decision", "lead_id", "scenario_id", "state", "why")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _record_run(conn: psycopg.Connection, run_id: str, as_of: datetime) -> None:
    conn.execute(
        """
        INSERT INTO nurture.runs AS r (run_id, as_of, dry_run, planned, held_out, exits_planned)
        SELECT %(run_id)s, %(as_of)s, false,
               count(*) FILTER (WHERE e.run_id = %(run_id)s AND e.arm = 'enrolled' AND e.state <> 'skipped'),
               count(*) FILTER (WHERE e.run_id = %(run_id)s AND e.arm = 'held_out' AND e.state <> 'skipped'),
               count(*) FILTER (WHERE e.exit_planned_at = %(as_of)s)
        FROM nurture.enrollments e
        ON CONFLICT (run_id) DO UPDATE
           SET as_of = EXCLUDED.as_of, planned = EXCLUDED.planned, held_out = EXCLUDED.held_out,
               exits_planned = EXCLUDED.exits_planned
        """,
        {"run_id": run_id, "as_of": as_of},
    )
