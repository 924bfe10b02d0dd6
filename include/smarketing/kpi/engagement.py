"""kpi.engagement_monthly by difference: a build adds the logged changes to marketing events to the counts
of their months (sql/kpi/engagement_delta.sql) instead of counting the months again.

Invariants:
- Statement triggers log what every inserted, updated or deleted event counted for (ops.kpi_event_changes,
  migration 0015) once tracking is on; the first build turns it on before it counts (no change between).
- A build takes the changes up to its moment (later ones wait for their time) in the transaction that
  applies them and advances the table's watermark: a change is applied once, never twice, never missed.
- The transaction is REPEATABLE READ: the months it counts again and the changes it takes are read in one
  snapshot, so a change is either in a month's count or still in the log, never both or neither.
- A month where a version left (an update or a delete) is counted again: whether a group keeps a row
  depends on all its events, which the counts alone do not tell.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg import sql

from smarketing.kpi import periods
from smarketing.kpi.models import read_sql
from smarketing.warehouse import tracking

TRACKING_ROW = "INSERT INTO ops.kpi_event_tracking DEFAULT VALUES ON CONFLICT DO NOTHING"
TRACKING_SINCE = "SELECT since FROM ops.kpi_event_tracking"


def track_event_changes(conn: psycopg.Connection, *, patience_s: float = 600.0) -> None:
    """Begin logging changes to marketing events, before a full count reads them (autocommit connection)."""
    tracking.start_tracking(conn, TRACKING_ROW, TRACKING_SINCE, what="the KPI build", patience_s=patience_s)


def take_event_changes(conn: psycopg.Connection, params: dict[str, object]) -> set[date]:
    """Move the logged changes up to the build's moment into _kpi_event_delta (dropped at commit), in the
    caller's transaction; returns the months where a version left (to be counted again)."""
    conn.execute("CREATE TEMP TABLE _kpi_event_delta (LIKE ops.kpi_event_changes) ON COMMIT DROP")
    conn.execute(
        "WITH taken AS (DELETE FROM ops.kpi_event_changes WHERE occurred_at <= %(as_of)s RETURNING *) "
        "INSERT INTO _kpi_event_delta SELECT * FROM taken",
        params,
    )
    rows = conn.execute(
        "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE %(tz)s)::date FROM _kpi_event_delta "
        "WHERE delta < 0",
        params,
    ).fetchall()
    return {month for (month,) in rows}


def add_event_changes(
    conn: psycopg.Connection,
    columns: sql.Composed,
    select: sql.Composed,
    params: dict[str, object],
    recounted: list[date],
) -> list[date]:
    """Add the taken changes outside the months counted again to their months' rows (`select`: the
    engagement model's SELECT of the table's `columns`, run by difference); the months added to."""
    step = {
        **params,
        "by_difference": True,
        "recounted": recounted,
        "lo": periods.BEGINNING,
        "hi": periods.END_OF_TIME,
    }
    months = conn.execute(
        "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE %(tz)s)::date FROM _kpi_event_delta "
        "WHERE occurred_at <= %(as_of)s ORDER BY 1",
        step,
    ).fetchall()
    with psycopg.ClientCursor(conn) as cur:  # client-side binding: the model's comments name its parameters
        cur.execute(
            sql.SQL("INSERT INTO kpi.engagement_monthly AS cur ({columns}) {select} {conflict}").format(
                columns=columns,
                select=select,
                conflict=sql.SQL(read_sql("engagement_delta")),  # type: ignore[arg-type]  # project SQL
            ),
            step,
        )
    return [m for (m,) in months if m not in set(recounted)]
