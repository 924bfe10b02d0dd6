"""Reading the clocks' inputs from the warehouse and writing their readings back, set-based.

Reads stream out of PostgreSQL with `COPY (query) TO STDOUT` as CSV with instants as epoch microseconds,
parsed by Arrow: no Python object per row. Writes go the other way: only the readings that may say
something new are binary-COPYed into a temporary table, and a handful of set-based `INSERT ... ON
CONFLICT` statements fold them into `sla.*` in one transaction. Both directions go through
`smarketing.warehouse.copy`.

Replays never regress the tables: a row is only overwritten by a reading taken at the same or a later
moment (`evaluated_at`), so `smarketing sla evaluate --as-of <yesterday>` reports yesterday's clock
without undoing today's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from smarketing.sla.clock import INPUT_COLUMNS, OUTPUT_COLUMNS
from smarketing.sla.settings import SlaSettings
from smarketing.warehouse.copy import copy_in_columns, copy_in_fixed, copy_out_csv, encode

# Arbitrary constant: one SLA evaluation at a time per warehouse (the DAG, a manual CLI run).
SLA_LOCK_KEY = 4_242_006
DEFAULT_REEVALUATE_DAYS = 30
ANALYZE_AFTER_ROWS = 20_000
RUNNING_STATUSES = ("pending", "at_risk", "breached_open")
STORED_COLUMNS = ("input_hash", "stored_hash", "stored_running")

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
_TEXT_INPUTS = (
    "mql_source",
    "owner_id",
    "owner_timezone",
    "persona_id",
    "grade",
    "accept_stage",
    "reject_stage",
)
# How each input column travels (text unless listed): what the fingerprint hashes it as.
_INPUT_KINDS = {"lead_id": "int", "score": "float", **dict.fromkeys(_TIME_INPUTS, "int")}
_TEXT_OUTPUTS = (
    "mql_source",
    "owner_id",
    "tier",
    "status",
    "excluded_reason",
    "decision",
    "decision_stage",
    "accept_status",
)


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def _epoch_us(expr: str) -> sql.Composable:
    # Epoch microseconds through float8: exact (the rounding error stays below 0.3 us until the 23rd
    # century) and cheaper than numeric arithmetic on every instant read.
    return sql.SQL("round(date_part('epoch', {}) * 1000000)::bigint").format(sql.SQL(expr))


def _fingerprint(columns: Sequence[str], kinds: dict[str, str]) -> sql.Composable:
    """SQL for a 64-bit hash of columns of `r`: numbers hashed one by one, texts joined and hashed once.

    Each number gets its own seed (the agreement's, XOR its position), so swapping two values changes
    the hash. Cheaper than hashing the text of the whole row.
    """
    parts: list[sql.Composable] = []
    texts: list[sql.Composable] = []
    for position, column in enumerate(columns, start=1):
        ref = sql.SQL("r.{}").format(sql.Identifier(column))
        kind = kinds.get(column, "text")
        if kind == "int":
            parts.append(
                sql.SQL("hashint8extended(coalesce({}, -1), %(seed)s # {})").format(
                    ref, sql.Literal(position)
                )
            )
        elif kind == "float":
            parts.append(
                sql.SQL("hashfloat8extended(coalesce({}, 'NaN'), %(seed)s # {})").format(
                    ref, sql.Literal(position)
                )
            )
        else:
            texts.append(sql.SQL("coalesce({}, chr(1))").format(ref))
    parts.append(
        sql.SQL("hashtextextended(concat_ws(chr(31), {}), %(seed)s)").format(sql.SQL(", ").join(texts))
    )
    return sql.SQL(" # ").join(parts)


def copy_out(
    conn: psycopg.Connection,
    query: sql.Composable,
    params: dict | None = None,
    *,
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Run a query through COPY into a frame, types inferred from the values except `text_columns`,
    which stay text even when every value looks like a number (ids such as "17")."""
    return copy_out_csv(conn, query, params, types=dict.fromkeys(text_columns, pa.string()), infer=True)


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
    # Plain aggregates rather than DISTINCT ON: a hash aggregate, and a row estimate the planner trusts.
    return sql.SQL(
        """
        SELECT lead_id, least(scoring_at, crm_at) AS mql_at,
               CASE WHEN scoring_at <= crm_at OR crm_at IS NULL THEN 'scoring' ELSE 'crm' END AS mql_source
        FROM (
            SELECT lead_id, min(mql_at) FILTER (WHERE mql_source = 'scoring') AS scoring_at,
                   min(mql_at) FILTER (WHERE mql_source = 'crm') AS crm_at
            FROM ({}) AS handovers GROUP BY lead_id
        ) AS firsts
        """
    ).format(sql.SQL(" UNION ALL ").join(parts))


@dataclass(frozen=True)
class Inputs:
    """What an evaluation reads: the clocks to compute, and how many others stand unchanged."""

    frame: pd.DataFrame  # INPUT_COLUMNS + STORED_COLUMNS, one row per clock to compute
    unchanged: pd.DataFrame  # status, accept_status, clocks: stored statuses of the clocks not sent

    @property
    def window(self) -> int:
        return len(self.frame) + int(self.unchanged["clocks"].sum())


def read_inputs(
    conn: psycopg.Connection,
    settings: SlaSettings,
    as_of: pd.Timestamp,
    *,
    reevaluate_days: int = DEFAULT_REEVALUATE_DAYS,
) -> Inputs:
    """Every MQL whose clock may still change, with what is known about it at `as_of` (INPUT_COLUMNS).

    The window: MQLs handed over in the last `reevaluate_days`, never evaluated, or with a clock still
    running (pending, at risk, breached and untouched, or undecided). Touches and stage changes are read
    at or after the MQL moment and at or before `as_of`. Of those, a closed clock whose inputs have not
    changed since a reading no later than `as_of` would read the same again: it is only counted.
    """
    # The tier goes by the score and grade at the crossing that handed the lead over when scoring
    # recorded one, else by the lead's current score (what scoring.lead_scores holds now).
    joins, score, grade = [], sql.SQL("NULL::double precision"), sql.SQL("NULL::text")
    if table_exists(conn, "scoring.lead_scores"):
        joins.append(sql.SQL("LEFT JOIN scoring.lead_scores s ON s.lead_id = w.lead_id"))
        score, grade = sql.SQL("s.total::double precision"), sql.SQL("s.grade::text")
    if table_exists(conn, "scoring.mql_crossings"):
        joins.append(
            sql.SQL(
                """LEFT JOIN (
                    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.total, c.grade
                    FROM scoring.mql_crossings c JOIN _sla_window w ON w.lead_id = c.lead_id
                    WHERE c.crossed_at <= %(as_of)s
                    ORDER BY c.lead_id, c.crossed_at, c.model_version
                ) AS cr ON cr.lead_id = w.lead_id"""
            )
        )
        score = sql.SQL("coalesce(cr.total::double precision, {})").format(score)
        grade = sql.SQL("CASE WHEN cr.lead_id IS NOT NULL THEN cr.grade::text ELSE {} END").format(grade)
    scores = sql.SQL("\n        ").join(joins)
    score_columns = sql.SQL("{} AS score, {} AS grade").format(score, grade)
    params = {
        "as_of": as_of.to_pydatetime(),
        "window_start": (as_of - pd.Timedelta(days=reevaluate_days)).to_pydatetime(),
        "touch_types": list(settings.qualifying_touches),
        "sql_stages": list(settings.sql_stages),
        "reject_stages": list(settings.reject_stages),
        "decision_stages": list(settings.sql_stages) + list(settings.reject_stages),
        "seed": settings_seed(settings),
    }
    # The window first, as an analysed temporary table: estimated from a CTE, the planner expects a few
    # dozen rows and walks the activity index once per lead instead of hashing.
    conn.execute("DROP TABLE IF EXISTS _sla_window")
    conn.execute(
        sql.SQL(
            """
            CREATE TEMP TABLE _sla_window ON COMMIT DROP AS
            WITH mql AS ({mql})
            SELECT m.lead_id, m.mql_at, m.mql_source, f.input_hash AS stored_hash,
                   coalesce(f.status IN ('pending', 'at_risk', 'breached_open') OR f.accept_status = 'pending',
                            false) AS stored_running,
                   f.evaluated_at AS stored_evaluated_at, f.status AS stored_status,
                   f.accept_status AS stored_accept_status
            FROM mql m LEFT JOIN sla.followups f ON f.lead_id = m.lead_id
            -- a lead deleted (or merged away) by the moment read is nobody's to follow up any more
            JOIN core.leads l ON l.lead_id = m.lead_id AND (l.deleted_at IS NULL OR l.deleted_at > %(as_of)s)
            WHERE m.mql_at >= %(window_start)s
               OR f.lead_id IS NULL
               OR f.status IN ('pending', 'at_risk')
               OR (f.status = 'breached_open' AND f.excluded_at IS NULL)
               OR f.accept_status IN ('pending', 'breached_open')
            """
        ).format(mql=mql_query(conn, settings)),
        params,
    )
    conn.execute("ANALYZE _sla_window")
    query = sql.SQL(
        """
        WITH decisions AS (
            -- Each lead's first acceptance and first rejection after its hand-over, with their stages.
            SELECT DISTINCT ON (h.lead_id, k.accepted) h.lead_id, k.accepted, h.entered_at, h.stage
            FROM core.lifecycle_history h JOIN _sla_window w ON w.lead_id = h.lead_id
            CROSS JOIN LATERAL (SELECT h.stage = ANY(%(sql_stages)s) AS accepted) AS k
            WHERE h.entered_at >= w.mql_at AND h.entered_at <= %(as_of)s
              AND h.stage = ANY(%(decision_stages)s)
            ORDER BY h.lead_id, k.accepted, h.entered_at, h.stage
        ),
        stages AS (
            SELECT lead_id,
                   max(entered_at) FILTER (WHERE accepted) AS accepted_at,
                   max(stage) FILTER (WHERE accepted) AS accept_stage,
                   max(entered_at) FILTER (WHERE NOT accepted) AS rejected_at,
                   max(stage) FILTER (WHERE NOT accepted) AS reject_stage
            FROM decisions GROUP BY lead_id
        )
        SELECT CASE WHEN x.live THEN 'reading' ELSE 'unchanged' END AS part, r.lead_id, {live_columns},
               CASE WHEN x.live THEN h.input_hash END AS input_hash,
               CASE WHEN x.live THEN w.stored_hash END AS stored_hash, w.stored_running,
               -- A closed clock whose inputs did not change since a reading no later than this one reads
               -- the same now: only its stored statuses travel.
               CASE WHEN NOT x.live THEN w.stored_status END AS status,
               CASE WHEN NOT x.live THEN w.stored_accept_status END AS accept_status
        FROM (
        SELECT w.lead_id, {mql_at} AS mql_at, w.mql_source,
               -- An owner assigned after the moment read was not the owner yet.
               CASE WHEN assigned_later THEN NULL ELSE l.owner_id END AS owner_id,
               CASE WHEN assigned_later THEN NULL ELSE {assigned} END AS owner_assigned_at,
               CASE WHEN assigned_later THEN NULL ELSE o.timezone END AS owner_timezone,
               l.persona_id, {score_columns},
               {touch} AS first_touch_at,
               {accepted} AS accepted_at, st.accept_stage,
               {rejected} AS rejected_at, st.reject_stage,
               CASE WHEN l.unsubscribed_at <= %(as_of)s THEN {unsubscribed} END AS unsubscribed_at
        FROM _sla_window w
        JOIN core.leads l ON l.lead_id = w.lead_id
        CROSS JOIN LATERAL (SELECT coalesce(l.owner_assigned_at > %(as_of)s, false) AS assigned_later) AS asg
        LEFT JOIN core.owners o ON o.owner_id = l.owner_id
        {scores}
        -- The first qualifying touch: one short walk down the (lead_id, occurred_at) index per lead, which
        -- beats aggregating every activity of the window.
        LEFT JOIN LATERAL (
            SELECT a.occurred_at AS first_touch_at FROM core.sales_activities a
            WHERE a.lead_id = w.lead_id AND a.occurred_at >= w.mql_at AND a.occurred_at <= %(as_of)s
              AND a.activity_type = ANY(%(touch_types)s)
            ORDER BY a.occurred_at LIMIT 1
        ) AS t ON true
        LEFT JOIN stages st ON st.lead_id = w.lead_id
        OFFSET 0
        ) AS r
        JOIN _sla_window w ON w.lead_id = r.lead_id
        -- Everything the reading depends on except the moment read, hashed where it is read (OFFSET 0
        -- keeps each expression computed once per row rather than once per use).
        CROSS JOIN LATERAL (SELECT {fingerprint} AS input_hash OFFSET 0) AS h
        CROSS JOIN LATERAL (
            SELECT w.stored_hash IS DISTINCT FROM h.input_hash OR w.stored_running
                   OR w.stored_evaluated_at > %(as_of)s AS live
            OFFSET 0
        ) AS x
        """
    ).format(
        mql_at=_epoch_us("w.mql_at"),
        assigned=_epoch_us("l.owner_assigned_at"),
        score_columns=score_columns,
        touch=_epoch_us("t.first_touch_at"),
        accepted=_epoch_us("st.accepted_at"),
        rejected=_epoch_us("st.rejected_at"),
        unsubscribed=_epoch_us("l.unsubscribed_at"),
        scores=scores,
        fingerprint=_fingerprint(INPUT_COLUMNS, _INPUT_KINDS),
        live_columns=sql.SQL(", ").join(
            sql.SQL("CASE WHEN x.live THEN r.{0} END AS {0}").format(sql.Identifier(c))
            for c in INPUT_COLUMNS
            if c != "lead_id"
        ),
    )
    frame = copy_out(conn, query, params, text_columns=(*_TEXT_INPUTS, "part", "status", "accept_status"))
    if frame.empty:
        columns = ("part", *INPUT_COLUMNS, *STORED_COLUMNS, "status", "accept_status")
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    counted = frame["part"] == "unchanged"
    unchanged = (
        frame.loc[counted, ["status", "accept_status"]]
        .value_counts(dropna=False)
        .rename("clocks")
        .reset_index()
    )
    frame = frame.loc[~counted].reset_index(drop=True)
    for column in _TIME_INPUTS:
        frame[column] = _us_to_utc(frame[column])
    frame["lead_id"] = frame["lead_id"].astype(np.int64)
    frame["stored_running"] = frame["stored_running"].astype(bool)
    frame["input_hash"] = frame["input_hash"].astype(np.int64)
    return Inputs(frame[[*INPUT_COLUMNS, *STORED_COLUMNS]], unchanged.astype({"clocks": np.int64}))


def settings_seed(settings: SlaSettings) -> int:
    """The agreement as a 64-bit hash seed: a changed agreement re-writes every clock in the window."""
    return int.from_bytes(hashlib.sha256(repr(settings).encode()).digest()[:8], "big", signed=True)


def needs_writing(readings: pd.DataFrame, inputs: pd.DataFrame) -> np.ndarray:
    """Readings that may say something new: changed inputs, or a clock running now or when last stored.

    A closed clock whose inputs did not change reads the same at any later moment, so it is skipped.
    """
    running = readings["status"].isin(RUNNING_STATUSES).to_numpy() | (
        readings["accept_status"] == "pending"
    ).fillna(False).to_numpy(dtype=bool)
    stored = inputs["stored_hash"].astype("Int64")
    changed = (stored != inputs["input_hash"].to_numpy()).fillna(True).to_numpy(dtype=bool)
    return changed | running | inputs["stored_running"].to_numpy(dtype=bool)


# -- writing ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WriteStats:
    evaluated: int
    written: int
    new_breaches: int


def write_followups(
    conn: psycopg.Connection, readings: pd.DataFrame, settings: SlaSettings, *, evaluated: int | None = None
) -> WriteStats:
    """Fold clock readings into sla.followups and sla.breaches, in the caller's transaction.

    `readings` holds OUTPUT_COLUMNS, `input_hash`, and `is_new` (no stored clock when the inputs were read
    in this transaction, under the SLA lock). `evaluated` counts the clocks read, written or not.
    """
    columns = [*OUTPUT_COLUMNS, "input_hash"]
    is_new = readings["is_new"].to_numpy(dtype=bool)
    stored, new = readings.loc[~is_new, columns], readings.loc[is_new, columns]
    # The clocks this run wrote, and whether they are new: only a clock stored before can have a breach
    # to update or void.
    conn.execute("CREATE TEMP TABLE _sla_changed (lead_id bigint PRIMARY KEY, is_new bigint) ON COMMIT DROP")
    updated = _update_stored(conn, stored, columns) if len(stored) else 0
    if len(new):
        # New clocks are new for sure (nobody else writes sla.followups while the lock is held): straight
        # in with COPY, which a first evaluation of the whole history does a few hundred thousand times.
        copy_in_columns(conn, "sla.followups", encode(new, times=_TIME_OUTPUTS, texts=_TEXT_OUTPUTS))
        marks = pd.DataFrame(
            {"lead_id": new["lead_id"].to_numpy(), "is_new": np.ones(len(new), dtype=np.int64)}
        )
        staged = encode(marks)
        copy_in_fixed(conn, "_sla_changed", staged.staged_columns(), staged.arrays)
    conn.execute("ANALYZE _sla_changed")
    new_breaches = _sync_breaches(conn, any_stored=updated > 0)
    if new_breaches > ANALYZE_AFTER_ROWS:
        conn.execute("ANALYZE sla.breaches")
    return WriteStats(
        len(readings) if evaluated is None else evaluated, int(updated + len(new)), new_breaches
    )


def _update_stored(conn: psycopg.Connection, stored: pd.DataFrame, columns: list[str]) -> int:
    """Replace stored clocks by these readings where they are no older and say something new."""
    encoded = encode(stored, times=_TIME_OUTPUTS, texts=_TEXT_OUTPUTS)
    conn.execute(
        sql.SQL("CREATE TEMP TABLE _sla_readings ({}) ON COMMIT DROP").format(
            sql.SQL(", ").join(sql.SQL(f"{c} {encoded.staging_type(c)}") for c in columns)
        )
    )
    copy_in_fixed(conn, "_sla_readings", encoded.staged_columns(), encoded.arrays)
    decoded = (
        sql.SQL(", ")
        .join(sql.SQL("{} AS {}").format(encoded.decode(c), sql.Identifier(c)) for c in columns)
        .as_string(conn)
    )
    values = [c for c in columns if c not in ("lead_id", "evaluated_at")]
    # An unchanged row costs no write (nor any breach work after).
    return conn.execute(
        f"""
        WITH updated AS (
            UPDATE sla.followups f
            SET ({", ".join(columns[1:])}) = ({", ".join(f"r.{c}" for c in columns[1:])}), updated_at = now()
            FROM (SELECT {decoded} FROM _sla_readings) AS r
            WHERE f.lead_id = r.lead_id AND f.evaluated_at <= r.evaluated_at
              AND ({", ".join(f"f.{c}" for c in values)})
                  IS DISTINCT FROM ({", ".join(f"r.{c}" for c in values)})
            RETURNING f.lead_id
        )
        INSERT INTO _sla_changed SELECT lead_id, 0 FROM updated
        """
    ).rowcount


_BREACH_KINDS = """
    CROSS JOIN LATERAL (VALUES
        ('first_touch', f.due_at, f.escalate_at, f.status IN ('breached_open', 'breached_late'),
         CASE WHEN f.excluded_at < coalesce(f.first_touch_at, 'infinity') THEN f.excluded_at ELSE f.first_touch_at END,
         CASE WHEN f.excluded_at < coalesce(f.first_touch_at, 'infinity') THEN 'excluded'
              WHEN f.first_touch_at IS NOT NULL THEN 'touched_late' END),
        ('accept', f.accept_due_at, f.accept_escalate_at,
         coalesce(f.accept_status IN ('breached_open', 'breached_late'), false),
         f.decided_at, CASE WHEN f.decided_at IS NOT NULL THEN 'decided_late' END)
    ) AS k (kind, due_at, escalate_at, breached, resolved_at, resolution)
"""


def _sync_breaches(conn: psycopg.Connection, *, any_stored: bool) -> int:
    """New breaches in, changed ones updated, voided ones marked `corrected`; returns how many are new."""
    found = f"""
        SELECT f.lead_id, k.kind, f.owner_id, k.due_at, f.evaluated_at, k.escalate_at, k.breached,
               k.resolved_at, k.resolution, c.is_new
        FROM sla.followups f JOIN _sla_changed c ON c.lead_id = f.lead_id {_BREACH_KINDS}
    """
    if any_stored:
        conn.execute(
            f"""
            UPDATE sla.breaches b
            SET owner_id = x.owner_id, due_at = x.due_at, escalate_at = x.escalate_at,
                resolved_at = CASE WHEN x.breached THEN x.resolved_at ELSE x.evaluated_at END,
                resolution = CASE WHEN x.breached THEN x.resolution ELSE 'corrected' END
            FROM ({found}) AS x
            WHERE x.is_new = 0 AND b.lead_id = x.lead_id AND b.kind = x.kind
              AND CASE WHEN x.breached
                       THEN (b.owner_id, b.due_at, b.escalate_at, b.resolved_at, b.resolution)
                            IS DISTINCT FROM (x.owner_id, x.due_at, x.escalate_at, x.resolved_at, x.resolution)
                       -- Late-arriving data showed the promise was kept (or the deadline moved): void.
                       ELSE b.resolution IS DISTINCT FROM 'corrected' END
            """
        )
    # A new clock has no breach yet, unless one outlived a clock removed by hand: checked once, so that
    # the common case is a plain insert (a first evaluation records tens of thousands) while such a
    # leftover keeps its row (and its announcement) through ON CONFLICT.
    leftovers = conn.execute(
        """
        SELECT EXISTS (SELECT FROM sla.breaches b JOIN _sla_changed c ON c.lead_id = b.lead_id
                       WHERE c.is_new = 1)
        """
    ).fetchone()[0]
    guarded = any_stored or leftovers
    inserted = conn.execute(
        f"""
        INSERT INTO sla.breaches (lead_id, kind, owner_id, due_at, detected_at, escalate_at, resolved_at, resolution)
        SELECT x.lead_id, x.kind, x.owner_id, x.due_at, x.evaluated_at, x.escalate_at, x.resolved_at, x.resolution
        FROM ({found}) AS x
        WHERE x.breached
        {"ON CONFLICT (lead_id, kind) DO NOTHING" if guarded else ""}
        """
    ).rowcount
    return int(inserted)
