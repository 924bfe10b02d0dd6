"""The ledger's moves, one small statement each. Every move goes forward only (planned -> pushed ->
confirmed; exiting -> exited), so replaying one after a crash changes nothing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg

Action = Literal["add", "remove"]
# The rows a change acts on, and the attempts counter it bumps.
WAITING = {"add": ("planned", "attempts"), "remove": ("exiting", "exit_attempts")}
_TARGET = "target_system = %(system)s AND target_kind = %(kind)s AND target_id = %(target_id)s"


@dataclass(frozen=True)
class TargetKey:
    """`mautic:segment:12` as its parts."""

    system: str
    kind: str
    target_id: str

    @classmethod
    def parse(cls, key: str) -> TargetKey:
        system, kind, target_id = key.split(":", 2)
        return cls(system, kind, target_id)

    def __str__(self) -> str:
        return f"{self.system}:{self.kind}:{self.target_id}"

    def params(self, **more: object) -> dict[str, object]:
        return {"system": self.system, "kind": self.kind, "target_id": self.target_id, **more}


def targets_with_work(conn: psycopg.Connection) -> list[str]:
    """Targets with rows to push, confirm or remove (the push and exit tasks are mapped over them)."""
    rows = conn.execute(
        "SELECT DISTINCT target_system || ':' || target_kind || ':' || target_id FROM nurture.enrollments "
        "WHERE state IN ('planned', 'pushed', 'exiting') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def waiting(
    conn: psycopg.Connection, key: TargetKey, action: Action, *, unsettled: bool = False
) -> list[str]:
    """Contact ids waiting for `action`, in ledger order; `unsettled`: only those a call already carried
    (its outcome unknown until the tool is read back)."""
    state, counter = WAITING[action]
    extra = f" AND {counter} > 0" if unsettled else ""
    rows = conn.execute(
        f"SELECT external_ref FROM nurture.enrollments WHERE state = %(state)s AND {_TARGET}{extra} "
        "ORDER BY enrollment_id",
        key.params(state=state),
    ).fetchall()
    return [r[0] for r in rows]


def open_call(
    conn: psycopg.Connection,
    key: TargetKey,
    run_id: str,
    action: Action,
    method: str,
    path: str,
    ids: Sequence[str],
    attempt: int,
) -> int:
    """Record a change before it leaves (outcome `sent`) and count the attempt on its rows."""
    state, counter = WAITING[action]
    (call_id,) = conn.execute(
        "INSERT INTO nurture.calls (run_id, target_system, target_kind, target_id, action, method, path, "
        "record_ids, attempt, outcome) VALUES (%(run_id)s, %(system)s, %(kind)s, %(target_id)s, %(action)s, "
        "%(method)s, %(path)s, %(ids)s, %(attempt)s, 'sent') RETURNING call_id",
        key.params(run_id=run_id, action=action, method=method, path=path, ids=list(ids), attempt=attempt),
    ).fetchone()
    conn.execute(
        f"UPDATE nurture.enrollments SET {counter} = {counter} + 1, updated_at = now() "
        f"WHERE state = %(state)s AND {_TARGET} AND external_ref = ANY(%(ids)s)",
        key.params(state=state, ids=list(ids)),
    )
    return int(call_id)


def close_call(
    conn: psycopg.Connection, call_id: int, outcome: str, status: int | None, error: str | None = None
) -> None:
    conn.execute(
        "UPDATE nurture.calls SET outcome = %s, http_status = %s, error = %s, finished_at = clock_timestamp() "
        "WHERE call_id = %s",
        (outcome, status, error, call_id),
    )


def note_error(
    conn: psycopg.Connection, key: TargetKey, action: Action, ids: Sequence[str], error: str
) -> None:
    state, _ = WAITING[action]
    conn.execute(
        f"UPDATE nurture.enrollments SET last_error = %(error)s, updated_at = now() "
        f"WHERE state = %(state)s AND {_TARGET} AND external_ref = ANY(%(ids)s)",
        key.params(state=state, ids=list(ids), error=error),
    )


def mark_done(
    conn: psycopg.Connection,
    key: TargetKey,
    action: Action,
    done: Collection[str],
    missing: Collection[str] = (),
) -> int:
    """Rows the tool now holds (add: pushed) or no longer holds (remove: exited); for adds, ids the tool
    does not know are skipped (not_in_target). Returns the rows moved."""
    if action == "add":
        moved = conn.execute(
            f"UPDATE nurture.enrollments SET state = 'pushed', pushed_at = now(), last_error = NULL, updated_at = now() "
            f"WHERE state = 'planned' AND {_TARGET} AND external_ref = ANY(%(ids)s)",
            key.params(ids=list(done)),
        ).rowcount
        conn.execute(
            f"UPDATE nurture.enrollments SET state = 'skipped', skip_reason = 'not_in_target', updated_at = now() "
            f"WHERE state = 'planned' AND {_TARGET} AND external_ref = ANY(%(ids)s)",
            key.params(ids=list(missing)),
        )
        return moved
    return conn.execute(
        f"UPDATE nurture.enrollments SET state = 'exited', exited_at = now(), last_error = NULL, updated_at = now() "
        f"WHERE state = 'exiting' AND {_TARGET} AND external_ref = ANY(%(ids)s)",
        key.params(ids=[*done, *missing]),
    ).rowcount


def confirm(
    conn: psycopg.Connection, key: TargetKey, members: Collection[str], at: datetime | None = None
) -> int:
    """Pushed rows the read-back found in the target become confirmed; returns how many."""
    return conn.execute(
        f"UPDATE nurture.enrollments SET state = 'confirmed', confirmed_at = COALESCE(%(at)s, now()), "
        f"updated_at = now() WHERE state = 'pushed' AND {_TARGET} AND external_ref = ANY(%(ids)s)",
        key.params(ids=list(members), at=at),
    ).rowcount


def record_read(
    conn: psycopg.Connection, key: TargetKey, run_id: str, path: str, outcome: str, error: str | None
) -> None:
    """A membership read-back, in the call log (one row per read, however many pages)."""
    conn.execute(
        "INSERT INTO nurture.calls (run_id, target_system, target_kind, target_id, action, method, path, "
        "record_ids, attempt, http_status, outcome, error, finished_at) VALUES (%(run_id)s, %(system)s, %(kind)s, "
        "%(target_id)s, 'read', 'GET', %(path)s, '{}', 1, %(status)s, %(outcome)s, %(error)s, clock_timestamp())",
        key.params(
            run_id=run_id, path=path, status=200 if outcome == "ok" else None, outcome=outcome, error=error
        ),
    )
