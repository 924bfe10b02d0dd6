"""What is due now: the running SLA clocks whose deadline has passed or comes within a horizon.

Read from `sla.followups` as the last evaluation left it (the hourly DAG, `smarketing sla evaluate`):
the first-touch clock runs until the owner touches the lead, the accept clock until sales accepts or
rejects it; a follow-up can be on both lists (one row per clock).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from smarketing.warehouse.connection import connect

# Clock states that still run (a stored breached_open is overdue and still waits for its touch).
_RUNNING = ("pending", "at_risk", "breached_open")


def due_clocks(
    dsn: str, now: datetime, *, horizon_minutes: int, owner: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Running clocks due before `now` + `horizon_minutes`, most urgent first.

    `owner`: only that owner's follow-ups (owner id); `limit`: rows at most. Each row: lead_id, owner_id,
    tier, clock ("first_touch" or "accept"), due_at, status, evaluated_at (when the clock was last read).
    """
    with connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT lead_id, owner_id, tier, clock, due, status, evaluated_at FROM (
                SELECT lead_id, owner_id, tier, 'first_touch' AS clock, due_at AS due, status, evaluated_at
                FROM sla.followups WHERE status = ANY(%(running)s)
                UNION ALL
                SELECT lead_id, owner_id, tier, 'accept', accept_due_at, accept_status, evaluated_at
                FROM sla.followups WHERE accept_status = ANY(%(running)s) AND accept_due_at IS NOT NULL
            ) c
            WHERE due <= %(until)s AND (%(owner)s::text IS NULL OR owner_id = %(owner)s)
            ORDER BY due, lead_id, clock LIMIT %(limit)s
            """,
            {
                "running": list(_RUNNING),
                "until": now + timedelta(minutes=horizon_minutes),
                "owner": owner,
                "limit": limit,
            },
        ).fetchall()
    keys = ("lead_id", "owner_id", "tier", "clock", "due_at", "status", "evaluated_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
