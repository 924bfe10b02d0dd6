"""Sending the ledger's changes to a target exactly once, and reading them back.

The protocol, per chunk of at most the target's batch size:

1. the call is recorded (`nurture.calls`, outcome `sent`) and the rows' attempts counted — committed
   *before* the request leaves;
2. one attempt goes out (the HTTP client's own retries are off for changes);
3. the answer is recorded with the rows it moved (pushed, or exited), in one transaction.

When the answer says the tool did not apply the change (429, 401, a refusal), the chunk is sent again
after a back-off. When nobody can tell (5xx, dropped connection, malformed answer: the tool may have
applied it), the target's membership is read back first and only the ids still missing go again. A
crash anywhere leaves rows whose attempts are counted but whose state did not move: the next run reads
the target back before sending anything for them. So nothing is sent twice and nothing planned is lost.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from smarketing.config import Agreement
from smarketing.errors import SmarketingError
from smarketing.nurture import ledger
from smarketing.nurture.ledger import Action, TargetKey
from smarketing.nurture.matching import create_leads, create_scenarios, create_scope, lead_params, statement
from smarketing.nurture.targets import Target, open_target
from smarketing.sources.http import ApiError, RetriesExhausted
from smarketing.tasklog import listing, summary
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushPolicy:
    """How often one chunk is tried in one run, and the back-off between tries (seconds, doubling)."""

    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0


class _Refused(Exception):
    """The tool did not apply the change: safe to send again."""


class _Unknown(Exception):
    """The tool may have applied the change: read it back before sending again."""


def push(
    dsn: str,
    agreement: Agreement,
    key: str,
    *,
    run_id: str,
    target: Target | None = None,
    policy: PushPolicy | None = None,
) -> dict[str, int]:
    """Send the planned adds of one target (`mautic:segment:12`); returns counts. Raises when a chunk
    could not be settled in this run (its rows stay planned; the next run settles them)."""
    where = TargetKey.parse(key)
    skipped = recheck(dsn, agreement, where)
    target = target or open_target(key)
    stats = _deliver(dsn, target, where, run_id, "add", policy or PushPolicy())
    stats.update({f"skipped_{reason}": n for reason, n in skipped.items()})
    return _finish(key, "push", stats)


def remove_exits(
    dsn: str, key: str, *, run_id: str, target: Target | None = None, policy: PushPolicy | None = None
) -> dict[str, int]:
    """Remove the exiting leads of one target; returns counts (raises like `push`)."""
    where = TargetKey.parse(key)
    target = target or open_target(key)
    return _finish(key, "exits", _deliver(dsn, target, where, run_id, "remove", policy or PushPolicy()))


def confirm(dsn: str, key: str, *, run_id: str, target: Target | None = None) -> dict[str, int]:
    """Read the target's membership back: pushed rows found there become confirmed."""
    where = TargetKey.parse(key)
    with connect(dsn) as conn:
        pushed = conn.execute(
            "SELECT count(*) FROM nurture.enrollments WHERE state = 'pushed' AND target_system = %s "
            "AND target_kind = %s AND target_id = %s",
            (where.system, where.kind, where.target_id),
        ).fetchone()[0]
    if not pushed:
        return _finish(key, "confirm", Counter(confirmed=0, unconfirmed=0))
    members = _read_members(dsn, target or open_target(key), where, run_id)
    with connect(dsn) as conn, conn.transaction():
        confirmed = ledger.confirm(conn, where, members)
    return _finish(key, "confirm", Counter(confirmed=confirmed, unconfirmed=pushed - confirmed))


def recheck(dsn: str, agreement: Agreement, key: TargetKey) -> Counter[str]:
    """Skip planned, never-sent rows whose lead may no longer receive the add; returns skips per reason."""
    with connect(dsn) as conn, conn.transaction():
        leads = conn.execute(
            "SELECT lead_id FROM nurture.enrollments WHERE state = 'planned' AND attempts = 0 "
            "AND target_system = %s AND target_kind = %s AND target_id = %s",
            (key.system, key.kind, key.target_id),
        ).fetchall()
        if not leads:
            return Counter()
        params = lead_params(agreement, datetime.now(UTC))
        create_scope(conn, params, lead_ids=[r[0] for r in leads])
        create_scenarios(conn, agreement)
        create_leads(conn, params)
        rows = conn.execute(statement("050_recheck"), key.params()).fetchall()
    return Counter({reason: n for reason, n in rows})


# -- the protocol ---------------------------------------------------------------------------------
def _deliver(
    dsn: str, target: Target, key: TargetKey, run_id: str, action: Action, policy: PushPolicy
) -> Counter[str]:
    stats: Counter[str] = Counter()
    with connect(dsn) as conn:
        unsettled = ledger.waiting(conn, key, action, unsettled=True)
    if unsettled:  # a call of an earlier run (or attempt) may have been applied: ask the tool first
        stats["settled"] += _settle(dsn, target, key, run_id, action)
    with connect(dsn) as conn:
        pending = ledger.waiting(conn, key, action)
    for start in range(0, len(pending), target.batch_size):
        stats += _send_chunk(
            dsn, target, key, run_id, action, pending[start : start + target.batch_size], policy
        )
    return stats


def _settle(
    dsn: str, target: Target, key: TargetKey, run_id: str, action: Action, ids: Sequence[str] | None = None
) -> int:
    """Move the rows the tool already reflects (add: members; remove: not members); returns how many."""
    members = _read_members(dsn, target, key, run_id)
    with connect(dsn) as conn, conn.transaction():
        carried = set(ids) if ids is not None else set(ledger.waiting(conn, key, action, unsettled=True))
        settled = carried & members if action == "add" else carried - members
        return ledger.mark_done(conn, key, action, settled)


def _send_chunk(
    dsn: str, target: Target, key: TargetKey, run_id: str, action: Action, ids: list[str], policy: PushPolicy
) -> Counter[str]:
    stats: Counter[str] = Counter()
    for attempt in range(1, policy.attempts + 1):
        request = target.request(action, ids)
        with connect(dsn) as conn, conn.transaction():
            call_id = ledger.open_call(conn, key, run_id, action, request.method, request.path, ids, attempt)
        stats["calls"] += 1
        try:
            applied = _change(target, action, ids)
        except _Refused as exc:
            _close(dsn, key, call_id, action, ids, "refused", exc)
            if exc.args[1] not in (429, 401):  # a 4xx: resending it will not help this run
                stats["failed"] += len(ids)
                return stats
        except _Unknown as exc:
            _close(dsn, key, call_id, action, ids, "unknown", exc)
            stats["settled"] += _settle(dsn, target, key, run_id, action, ids)
            with connect(dsn) as conn:
                still = set(ledger.waiting(conn, key, action))
            ids = [i for i in ids if i in still]
            if not ids:
                return stats
        else:
            with connect(dsn) as conn, conn.transaction():
                ledger.close_call(conn, call_id, "ok", 200)
                stats["done"] += ledger.mark_done(conn, key, action, applied.done, applied.missing)
            stats["missing"] += len(applied.missing)
            return stats
        ceiling = min(policy.max_wait, policy.initial_wait * 2 ** (attempt - 1))
        time.sleep(random.uniform(ceiling / 2, ceiling))
    stats["failed"] += len(ids)
    return stats


def _change(target: Target, action: Action, ids: Sequence[str]):
    try:
        return target.change(action, ids)
    except RetriesExhausted as exc:
        if exc.reason.startswith(("HTTP 429", "HTTP 401")):
            raise _Refused(exc.reason, 429 if "429" in exc.reason else 401) from None
        status = int(exc.reason[5:8]) if exc.reason.startswith("HTTP 5") else None
        raise _Unknown(exc.reason, status) from None
    except ApiError as exc:  # 4xx: the tool refused it; sending it again will not help this run
        raise _Refused(str(exc), exc.status) from None


def _close(
    dsn: str, key: TargetKey, call_id: int, action: Action, ids: Sequence[str], outcome: str, exc: Exception
) -> None:
    reason, status = exc.args
    with connect(dsn) as conn, conn.transaction():
        ledger.close_call(conn, call_id, outcome, status, str(reason)[:300])
        ledger.note_error(conn, key, action, ids, str(reason)[:300])


def _read_members(dsn: str, target: Target, key: TargetKey, run_id: str) -> set[str]:
    try:
        members = target.members()
    except ApiError as exc:
        with connect(dsn) as conn, conn.transaction():
            ledger.record_read(conn, key, run_id, f"{key} members", "failed", str(exc)[:300])
        raise
    with connect(dsn) as conn, conn.transaction():
        ledger.record_read(conn, key, run_id, f"{key} members", "ok", None)
    return members


def _finish(key: str, step: str, stats: Counter[str]) -> dict[str, int]:
    result = {k: int(v) for k, v in sorted(stats.items())}
    summary(f"nurture {step} {key}: {listing(result, empty='nothing to do')}")
    if stats.get("failed"):
        raise SmarketingError(
            f"nurture {step} {key}: {stats['failed']} lead(s) not settled after retries; the next run reads "
            "the target back and sends only what it lacks (nurture.calls has every attempt)"
        )
    return result
