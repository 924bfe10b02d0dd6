"""Reading the clocks' inputs from the warehouse and writing their readings back, set-based.

Reads stream out of PostgreSQL with `COPY (query) TO STDOUT` as CSV with instants as epoch microseconds,
parsed by Arrow: no Python object per row. Writes go the other way: the frame becomes CSV in Arrow,
is COPYed into a temporary table, and a handful of `INSERT ... ON CONFLICT` / `UPDATE ... FROM`
statements fold it into `sla.*` in one transaction.

Replays never regress the tables: a row is only overwritten by a reading taken at the same or a later
moment (`evaluated_at`), so `smarketing sla evaluate --as-of <yesterday>` reports yesterday's clock
without undoing today's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from smarketing.sla.clock import INPUT_COLUMNS, OUTPUT_COLUMNS
from smarketing.sla.settings import SlaSettings

# Arbitrary constant: one SLA evaluation at a time per warehouse (the DAG, a manual CLI run).
SLA_LOCK_KEY = 4_242_006
DEFAULT_REEVALUATE_DAYS = 30
OPEN_STATUSES = ("pending", "at_risk")

_TIME_INPUTS = (
    "mql_at",
    "owner_assigned_at",
    "first_touch_at",
    "accepted_at",
    "rejected_at",
    "unsubscribed_at",
)
_TIME_OUTPUTS = (
    "mql_at",
    "assigned_at",
    "due_at",
    "first_touch_at",
    "excluded_at",
    "accept_due_at",
    "decided_at",
    "escalate_at",
    "accept_escalate_at",
    "evaluated_at",
)
_FLOAT_OUTPUTS = (
    "allowed_minutes",
    "used_share",
    "business_minutes_to_touch",
    "routing_minutes",
    "rep_minutes",
)


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def _epoch_us(expr: str) -> sql.Composable:
    # Exact: extract() returns numeric, and microseconds fit a bigint.
    return sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(sql.SQL(expr))


def copy_out(conn: psycopg.Connection, query: sql.Composable, params: dict | None = None) -> pd.DataFrame:
    """Run a query through COPY and parse its CSV with Arrow (columns typed by the header's values)."""
    buffer = io.BytesIO()
    with conn.cursor().copy(
        sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query), params
    ) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    if buffer.getbuffer().nbytes == 0:
        return pd.DataFrame()
    table = pacsv.read_csv(
        buffer,
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False),
    )
    return table.to_pandas()


def _us_to_utc(values: pd.Series) -> pd.Series:
    us = pd.to_numeric(values, errors="coerce").astype("Int64")
    return pd.to_datetime(us, unit="us", utc=True).astype("datetime64[ns, UTC]")


def mql_query(conn: psycopg.Connection, settings: SlaSettings) -> sql.Composable:
    """(lead_id, mql_at, mql_source) of every lead handed over by `%(as_of)s`: its first MQL moment.

    The CRM's own MQL stage (core.lifecycle_history) and, once scoring runs, its crossings
    (scoring.mql_crossings) both hand a lead over; the clock starts at whichever came first.
    """
    crm = sql.SQL(
        "SELECT lead_id, entered_at AS mql_at, "
        "CASE WHEN source_system = 'scoring' THEN 'scoring' ELSE 'crm' END AS mql_source "
        "FROM core.lifecycle_history "
        "WHERE stage = {} AND entered_at <= %(as_of)s"
    ).format(sql.Literal(settings.mql_stage))
    parts = [crm]
    if table_exists(conn, "scoring.mql_crossings"):
        parts.insert(
            0,
            sql.SQL(
                "SELECT lead_id, crossed_at AS mql_at, 'scoring' AS mql_source FROM scoring.mql_crossings "
                "WHERE crossed_at <= %(as_of)s"
            ),
        )
    return sql.SQL(
        "SELECT DISTINCT ON (lead_id) lead_id, mql_at, mql_source FROM ({}) AS handovers "
        "ORDER BY lead_id, mql_at, mql_source DESC"
    ).format(sql.SQL(" UNION ALL ").join(parts))


def read_inputs(
    conn: psycopg.Connection,
    settings: SlaSettings,
    as_of: pd.Timestamp,
    *,
    reevaluate_days: int = DEFAULT_REEVALUATE_DAYS,
) -> pd.DataFrame:
    """Every MQL whose clock may still change, with what is known about it at `as_of` (INPUT_COLUMNS).

    That is: MQLs handed over in the last `reevaluate_days`, never evaluated, or with a clock still
    running (pending, at risk, breached and untouched, or undecided). Touches and stage changes are read
    at or after the MQL moment and at or before `as_of`.
    """
    if table_exists(conn, "scoring.lead_scores"):
        scores = sql.SQL("LEFT JOIN scoring.lead_scores s ON s.lead_id = w.lead_id")
        score_columns = sql.SQL("s.total::double precision AS score, s.grade::text AS grade")
    else:
        scores = sql.SQL("")
        score_columns = sql.SQL("NULL::double precision AS score, NULL::text AS grade")
    query = sql.SQL(
        """
        WITH mql AS ({mql}),
        win AS (
            SELECT m.lead_id, m.mql_at, m.mql_source
            FROM mql m LEFT JOIN sla.followups f ON f.lead_id = m.lead_id
            WHERE m.mql_at >= %(window_start)s
               OR f.lead_id IS NULL
               OR f.status IN ('pending', 'at_risk')
               OR (f.status = 'breached_open' AND f.excluded_at IS NULL)
               OR f.accept_status IN ('pending', 'breached_open')
        ),
        touch AS (
            SELECT a.lead_id, min(a.occurred_at) AS first_touch_at
            FROM core.sales_activities a JOIN win w ON w.lead_id = a.lead_id
            WHERE a.occurred_at >= w.mql_at AND a.occurred_at <= %(as_of)s
              AND a.activity_type = ANY(%(touch_types)s)
            GROUP BY a.lead_id
        ),
        stages AS (
            SELECT h.lead_id,
                   min(h.entered_at) FILTER (WHERE h.stage = ANY(%(sql_stages)s)) AS accepted_at,
                   (array_agg(h.stage ORDER BY h.entered_at, h.stage)
                        FILTER (WHERE h.stage = ANY(%(sql_stages)s)))[1] AS accept_stage,
                   min(h.entered_at) FILTER (WHERE h.stage = ANY(%(reject_stages)s)) AS rejected_at,
                   (array_agg(h.stage ORDER BY h.entered_at, h.stage)
                        FILTER (WHERE h.stage = ANY(%(reject_stages)s)))[1] AS reject_stage
            FROM core.lifecycle_history h JOIN win w ON w.lead_id = h.lead_id
            WHERE h.entered_at >= w.mql_at AND h.entered_at <= %(as_of)s
              AND h.stage = ANY(%(decision_stages)s)
            GROUP BY h.lead_id
        )
        SELECT w.lead_id, {mql_at} AS mql_at, w.mql_source,
               l.owner_id, {assigned} AS owner_assigned_at, o.timezone AS owner_timezone,
               l.persona_id, {score_columns},
               {touch} AS first_touch_at,
               {accepted} AS accepted_at, st.accept_stage,
               {rejected} AS rejected_at, st.reject_stage,
               CASE WHEN l.unsubscribed_at <= %(as_of)s THEN {unsubscribed} END AS unsubscribed_at
        FROM win w
        JOIN core.leads l ON l.lead_id = w.lead_id
        LEFT JOIN core.owners o ON o.owner_id = l.owner_id
        {scores}
        LEFT JOIN touch t ON t.lead_id = w.lead_id
        LEFT JOIN stages st ON st.lead_id = w.lead_id
        """
    ).format(
        mql=mql_query(conn, settings),
        mql_at=_epoch_us("w.mql_at"),
        assigned=_epoch_us("l.owner_assigned_at"),
        score_columns=score_columns,
        touch=_epoch_us("t.first_touch_at"),
        accepted=_epoch_us("st.accepted_at"),
        rejected=_epoch_us("st.rejected_at"),
        unsubscribed=_epoch_us("l.unsubscribed_at"),
        scores=scores,
    )
    params = {
        "as_of": as_of.to_pydatetime(),
        "window_start": (as_of - pd.Timedelta(days=reevaluate_days)).to_pydatetime(),
        "touch_types": list(settings.qualifying_touches),
        "sql_stages": list(settings.sql_stages),
        "reject_stages": list(settings.reject_stages),
        "decision_stages": list(settings.sql_stages) + list(settings.reject_stages),
    }
    frame = copy_out(conn, query, params)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in INPUT_COLUMNS})
    for column in _TIME_INPUTS:
        frame[column] = _us_to_utc(frame[column])
    frame["lead_id"] = frame["lead_id"].astype(np.int64)
    return frame[list(INPUT_COLUMNS)]


# -- writing ---------------------------------------------------------------------------------------------
def _arrow_for_copy(frame: pd.DataFrame, times: Sequence[str]) -> pa.Table:
    """The frame with instants as epoch microseconds (exact integers), every column nullable."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name]
        if name in times:
            ts = pd.DatetimeIndex(values).as_unit("us")
            us = ts.asi8
            columns[name] = pa.array(us, type=pa.int64(), mask=np.asarray(ts.isna()))
        elif values.dtype.kind == "f":
            columns[name] = pa.array(values.to_numpy(), type=pa.float64(), from_pandas=True)
        elif values.dtype.kind in "iu":
            columns[name] = pa.array(values.to_numpy(), type=pa.int64())
        else:
            columns[name] = pa.array(values.astype("object").where(values.notna(), None), type=pa.string())
    return pa.table(columns)


def copy_in(conn: psycopg.Connection, table: str, frame: pd.DataFrame, times: Sequence[str]) -> None:
    """COPY a frame into an existing (temporary) table with the same column names, in chunks."""
    arrow = _arrow_for_copy(frame, times)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    )
    # Arrow writes nulls as empty unquoted fields and quotes every string: exactly COPY csv's NULL rules.
    options = pacsv.WriteOptions(include_header=False, batch_size=50_000)
    with conn.cursor().copy(statement) as copy:
        for batch in arrow.to_batches(max_chunksize=50_000):
            sink = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), sink, options)
            copy.write(sink.getvalue())


def _ts(column: str) -> str:
    return f"timestamptz 'epoch' + {column} * interval '1 microsecond'"


_FOLLOWUP_TYPES = {
    "lead_id": "bigint",
    "mql_source": "text",
    "owner_id": "text",
    "tier": "text",
    "status": "text",
    "excluded_reason": "text",
    "decision": "text",
    "decision_stage": "text",
    "accept_status": "text",
    **dict.fromkeys(_TIME_OUTPUTS, "bigint"),
    **dict.fromkeys(_FLOAT_OUTPUTS, "double precision"),
}


@dataclass(frozen=True)
class WriteStats:
    evaluated: int
    written: int
    new_breaches: int
    recycled: int


def write_followups(conn: psycopg.Connection, readings: pd.DataFrame, settings: SlaSettings) -> WriteStats:
    """Fold clock readings into sla.followups, sla.breaches and sla.recycled_leads (caller's transaction)."""
    columns = list(OUTPUT_COLUMNS)
    conn.execute(
        sql.SQL("CREATE TEMP TABLE _sla_readings ({}) ON COMMIT DROP").format(
            sql.SQL(", ").join(sql.SQL(f"{c} {_FOLLOWUP_TYPES[c]}") for c in columns)
        )
    )
    copy_in(conn, "_sla_readings", readings[columns], _TIME_OUTPUTS)
    conn.execute("ANALYZE _sla_readings")
    select = ", ".join(_ts(c) if c in _TIME_OUTPUTS else c for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "lead_id")
    written = conn.execute(
        f"""
        WITH upserted AS (
            INSERT INTO sla.followups AS f ({", ".join(columns)})
            SELECT {select} FROM _sla_readings
            ON CONFLICT (lead_id) DO UPDATE SET {updates}, updated_at = now()
            WHERE f.evaluated_at <= EXCLUDED.evaluated_at
            RETURNING f.lead_id
        )
        SELECT count(*) FROM upserted
        """
    ).fetchone()[0]
    new_breaches = _sync_breaches(conn)
    recycled = _sync_recycled(conn, settings)
    return WriteStats(len(readings), written, new_breaches, recycled)


# The rows this evaluation owns: read by it and not overtaken by a later reading.
_OWNED = """
    SELECT f.* FROM sla.followups f JOIN _sla_readings r ON r.lead_id = f.lead_id
    WHERE f.evaluated_at = timestamptz 'epoch' + r.evaluated_at * interval '1 microsecond'
"""


def _sync_breaches(conn: psycopg.Connection) -> int:
    inserted = conn.execute(
        f"""
        WITH owned AS ({_OWNED}),
        found AS (
            SELECT lead_id, 'first_touch' AS kind, owner_id, due_at, evaluated_at, escalate_at,
                   CASE WHEN excluded_at IS NOT NULL AND excluded_at < coalesce(first_touch_at, 'infinity')
                        THEN excluded_at ELSE first_touch_at END AS resolved_at,
                   CASE WHEN excluded_at IS NOT NULL AND excluded_at < coalesce(first_touch_at, 'infinity')
                        THEN 'excluded' WHEN first_touch_at IS NOT NULL THEN 'touched_late' END AS resolution
            FROM owned WHERE status IN ('breached_open', 'breached_late')
            UNION ALL
            SELECT lead_id, 'accept', owner_id, accept_due_at, evaluated_at, accept_escalate_at,
                   decided_at, CASE WHEN decided_at IS NOT NULL THEN 'decided_late' END
            FROM owned WHERE accept_status IN ('breached_open', 'breached_late')
        ),
        upserted AS (
            INSERT INTO sla.breaches AS b
                (lead_id, kind, owner_id, due_at, detected_at, escalate_at, resolved_at, resolution)
            SELECT lead_id, kind, owner_id, due_at, evaluated_at, escalate_at, resolved_at, resolution FROM found
            ON CONFLICT (lead_id, kind) DO UPDATE SET
                owner_id = EXCLUDED.owner_id, due_at = EXCLUDED.due_at, escalate_at = EXCLUDED.escalate_at,
                resolved_at = EXCLUDED.resolved_at, resolution = EXCLUDED.resolution
            WHERE (b.owner_id, b.due_at, b.escalate_at, b.resolved_at, b.resolution)
                  IS DISTINCT FROM
                  (EXCLUDED.owner_id, EXCLUDED.due_at, EXCLUDED.escalate_at, EXCLUDED.resolved_at, EXCLUDED.resolution)
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted) FROM upserted
        """
    ).fetchone()[0]
    # Late-arriving data showed the promise was kept (or the deadline moved): the breach is void.
    conn.execute(
        f"""
        WITH owned AS ({_OWNED})
        UPDATE sla.breaches b SET resolved_at = o.evaluated_at, resolution = 'corrected'
        FROM owned o
        WHERE b.lead_id = o.lead_id AND b.resolution IS DISTINCT FROM 'corrected'
          AND ((b.kind = 'first_touch' AND o.status NOT IN ('breached_open', 'breached_late'))
            OR (b.kind = 'accept' AND o.accept_status IS DISTINCT FROM 'breached_open'
                                  AND o.accept_status IS DISTINCT FROM 'breached_late'))
        """
    )
    return int(inserted)


def _sync_recycled(conn: psycopg.Connection, settings: SlaSettings) -> int:
    recorded = conn.execute(
        f"""
        WITH owned AS ({_OWNED}),
        upserted AS (
            INSERT INTO sla.recycled_leads AS r (lead_id, mql_at, rejected_at, rejected_stage, recyclable)
            SELECT lead_id, mql_at, decided_at, decision_stage, decision_stage = %(recycle)s
            FROM owned WHERE decision = 'rejected'
            ON CONFLICT (lead_id) DO UPDATE SET
                mql_at = EXCLUDED.mql_at, rejected_at = EXCLUDED.rejected_at,
                rejected_stage = EXCLUDED.rejected_stage, recyclable = EXCLUDED.recyclable
            WHERE r.consumed_at IS NULL
              AND (r.mql_at, r.rejected_at, r.rejected_stage)
                  IS DISTINCT FROM (EXCLUDED.mql_at, EXCLUDED.rejected_at, EXCLUDED.rejected_stage)
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted) FROM upserted
        """,
        {"recycle": settings.recycle_stage},
    ).fetchone()[0]
    # A rejection the CRM no longer shows (corrected data) is withdrawn unless nurturing already took it.
    conn.execute(
        f"""
        WITH owned AS ({_OWNED})
        DELETE FROM sla.recycled_leads r USING owned o
        WHERE r.lead_id = o.lead_id AND o.decision IS DISTINCT FROM 'rejected' AND r.consumed_at IS NULL
        """
    )
    return int(recorded)
