"""A nurturing run's plan: the exits and new entries it decides, recorded in `nurture.enrollments`.

Planning is set-based SQL in one transaction (`sql/nurture/`): choose the leads to plan, build their
eligibility and matches, decide exits (`040_exits.sql`), then enter leads (`030_enroll.sql`). The
one-running-enrollment index, the daily cap counted from the ledger and the cooldown make a rerun of the
same run plan nothing new.

Plans are incremental: a plan re-plans only the leads whose inputs changed since the last one (the change
log the triggers keep, MQL flips, time-bound facts that crossed a boundary, leads whose cooldown or cap
day came: `005_scope.sql`), which decides exactly what a full plan would. A full plan happens the first
time, when the agreement's nurturing settings change (`settings_hash`), when planning an earlier moment
than the last plan, when `nurture.lead_state` was lost (unlogged: a server crash), or when asked.

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
from smarketing.nurture.matching import (
    analyze,
    create_matches,
    create_scope,
    lead_params,
    prepare_session,
    scoped_statement,
    settings_hash,
    statement,
)
from smarketing.tasklog import count, moment
from smarketing.warehouse import tracking
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

# One planner at a time per warehouse: two runs planning together could both see a lead as free.
PLAN_LOCK_KEY = 4_242_012
# The lead id of nurture.lead_state's marker row, written by every full plan (see _remember).
STATE_WRITTEN = -1


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
    mode: str = "full"  # or "incremental"
    replanned: int | None = None  # leads re-planned by an incremental plan
    entries: dict[str, Counter[str]] = field(default_factory=dict)
    exits: dict[str, Counter[str]] = field(default_factory=dict)
    blocked: Counter[str] = field(default_factory=Counter)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "mode": self.mode,
            "replanned": self.replanned,
            "entries": {k: dict(v) for k, v in sorted(self.entries.items())},
            "exits": {k: dict(v) for k, v in sorted(self.exits.items())},
            "blocked": dict(sorted(self.blocked.items())),
            **({"details": self.details} if self.dry_run else {}),
        }

    def headline(self) -> str:
        """The plan on one line (the task log's summary)."""
        return (
            f"nurture plan as of {moment(self.as_of)}{' (dry run: nothing recorded)' if self.dry_run else ''}, "
            f"{self._scope()}: "
            f"{count(self.count('entries'), 'entry', 'entries')} ({count(self.count('entries', 'held_out'))} "
            f"held out as the control group, {count(self.count('entries', 'skipped'))} skipped), "
            f"{count(self.count('exits'), 'exit')}"
        )

    def _scope(self) -> str:
        if self.mode == "full":
            return "every lead (full plan)"
        return f"{count(self.replanned or 0, 'lead')} whose inputs changed (incremental)"

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
    full: bool = False,
    detail_limit: int = 200,
) -> PlanResult:
    """Decide the exits and the new entries at `as_of` and record them under `run_id`.

    dsn: the warehouse; agreement: the parsed agreement (its nurturing scenarios and vocabulary);
    as_of: the moment planned for (interests, touches and outcomes up to it; also the entries'
    planned_at); dry_run: compute everything, keep nothing, list the decisions in `details`;
    full: re-plan every lead even when an incremental plan would do.
    Returns the counts (and, for a dry run, the details).
    """
    result = PlanResult(run_id=run_id, as_of=as_of, dry_run=dry_run)
    if not dry_run:
        start_tracking(dsn)
    digest = settings_hash(agreement)
    try:
        with connect(dsn) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLAN_LOCK_KEY,))
            prepare_session(conn)
            params = lead_params(agreement, as_of)
            since = None if full else _incremental_since(conn, digest, as_of)
            result.mode = "full" if since is None else "incremental"
            if since is None:
                conn.execute("DELETE FROM nurture.lead_changes")  # a full plan reads every change
            replanned = create_scope(conn, params, since=since)
            result.replanned = replanned if since is not None else None
            create_matches(conn, agreement, params)
            _decide(conn, params, run_id, result)
            if dry_run:
                result.details = _details(conn, detail_limit)
                raise _DryRun
            _remember(conn, params, result, digest)
            _record_run(conn, run_id, as_of)
    except _DryRun:
        pass
    return result


def start_tracking(dsn: str, *, patience_s: float = 600.0) -> None:
    """Begin logging input changes (the `nurture.plan_state` row) before the first plan reads anything
    (smarketing.warehouse.tracking: writers older than the row are waited for)."""
    with connect(dsn, autocommit=True) as conn:
        tracking.start_tracking(
            conn,
            "INSERT INTO nurture.plan_state DEFAULT VALUES ON CONFLICT DO NOTHING",
            "SELECT tracking_since FROM nurture.plan_state",
            what="nurturing",
            patience_s=patience_s,
        )


def _incremental_since(conn: psycopg.Connection, digest: str, as_of: datetime) -> datetime | None:
    """The last plan's moment when this plan may be incremental; None when it must be a full one."""
    row = conn.execute(
        "SELECT as_of, config_hash, EXISTS (SELECT 1 FROM nurture.lead_state WHERE lead_id = %s) "
        "FROM nurture.plan_state",
        (STATE_WRITTEN,),
    ).fetchone()
    if row is None or row[0] is None:
        return None  # never planned
    since, last_digest, state_kept = row
    if last_digest != digest or as_of < since or not state_kept:
        log.info(
            "nurture plan: full re-plan (%s)",
            "the nurturing settings changed"
            if last_digest != digest
            else "planning an earlier moment than the last plan"
            if as_of < since
            else "the plan state was lost",
        )
        return None
    return since


def _remember(conn: psycopg.Connection, params: dict[str, Any], result: PlanResult, digest: str) -> None:
    """What the next plan starts from: each planned lead's state, and this plan's moment and settings."""
    if params["scoped"]:
        conn.execute("DELETE FROM nurture.lead_state WHERE lead_id IN (SELECT lead_id FROM nurture_scope)")
    else:
        conn.execute("TRUNCATE nurture.lead_state")
        # Most leads have no row, so an empty table proves nothing: this row (no lead has a negative id)
        # says a plan wrote it. Unlogged, the table comes back empty after a crash, without it.
        conn.execute(f"INSERT INTO nurture.lead_state (lead_id, is_mql) VALUES ({STATE_WRITTEN}, false)")
    analyze(conn, "nurture_entered")
    conn.execute(statement("070_lead_state"), params)
    conn.execute(
        "UPDATE nurture.plan_state SET as_of = %s, config_hash = %s, mode = %s, run_id = %s, replanned = %s, "
        "planned_at = now()",
        (result.as_of, digest, result.mode, result.run_id, result.replanned),
    )


def _decide(conn: psycopg.Connection, params: dict[str, Any], run_id: str, result: PlanResult) -> None:
    conn.execute(
        "CREATE TEMP TABLE nurture_entered (lead_id bigint, scenario_id text, state text) ON COMMIT DROP"
    )
    for scenario, _arm, state, reason, n in conn.execute(
        scoped_statement("040_exits", params), params
    ).fetchall():
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
