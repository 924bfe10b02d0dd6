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
from smarketing.sqlfiles import composed, statement
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
    return composed("sla", "handovers", handovers=sql.SQL(" UNION ALL ").join(parts))


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
    params = _input_params(settings, as_of, reevaluate_days)
    _create_window(conn, settings, params)
    frame = copy_out(
        conn,
        _inputs_query(conn),
        params,
        text_columns=(*_TEXT_INPUTS, "part", "status", "accept_status"),
    )
    return _split_inputs(frame)


def _input_params(settings: SlaSettings, as_of: pd.Timestamp, reevaluate_days: int) -> dict[str, object]:
    return {
        "as_of": as_of.to_pydatetime(),
        "window_start": (as_of - pd.Timedelta(days=reevaluate_days)).to_pydatetime(),
        "touch_types": list(settings.qualifying_touches),
        "sql_stages": list(settings.sql_stages),
        "reject_stages": list(settings.reject_stages),
        "decision_stages": list(settings.sql_stages) + list(settings.reject_stages),
        "seed": settings_seed(settings),
    }


def _create_window(conn: psycopg.Connection, settings: SlaSettings, params: dict[str, object]) -> None:
    """The clocks that may still change, as the analysed temporary table `_sla_window` (window.sql)."""
    conn.execute("DROP TABLE IF EXISTS _sla_window")
    conn.execute(composed("sla", "window", mql=mql_query(conn, settings)), params)
    conn.execute("ANALYZE _sla_window")


def _score_parts(conn: psycopg.Connection) -> tuple[sql.Composable, sql.Composable]:
    """The score and grade columns of the inputs, and the joins they need.

    The tier goes by the score and grade at the crossing that handed the lead over when scoring
    recorded one, else by the lead's current score (what scoring.lead_scores holds now).
    """
    joins, score, grade = [], sql.SQL("NULL::double precision"), sql.SQL("NULL::text")
    if table_exists(conn, "scoring.lead_scores"):
        joins.append(sql.SQL("LEFT JOIN scoring.lead_scores s ON s.lead_id = w.lead_id"))
        score, grade = sql.SQL("s.total::double precision"), sql.SQL("s.grade::text")
    if table_exists(conn, "scoring.mql_crossings"):
        joins.append(sql.SQL(statement("sla", "crossing_scores")))
        score = sql.SQL("coalesce(cr.total::double precision, {})").format(score)
        grade = sql.SQL("CASE WHEN cr.lead_id IS NOT NULL THEN cr.grade::text ELSE {} END").format(grade)
    columns = sql.SQL("{} AS score, {} AS grade").format(score, grade)
    return columns, sql.SQL("\n").join(joins)


def _inputs_query(conn: psycopg.Connection) -> sql.Composed:
    """inputs.sql with its parts: instants as epoch microseconds, scores, the inputs' fingerprint."""
    score_columns, scores = _score_parts(conn)
    return composed(
        "sla",
        "inputs",
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


def _split_inputs(frame: pd.DataFrame) -> Inputs:
    """The clocks to compute (typed INPUT_COLUMNS + STORED_COLUMNS), and the unchanged ones counted."""
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
    # The stored clocks this run rewrote: only those can have a breach to update or void.
    conn.execute("CREATE TEMP TABLE _sla_changed (lead_id bigint PRIMARY KEY) ON COMMIT DROP")
    updated = _update_stored(conn, stored, columns) if len(stored) else 0
    if len(new):
        # New clocks are new for sure (nobody else writes sla.followups while the lock is held): straight
        # in with COPY, which a first evaluation of the whole history does a few hundred thousand times.
        copy_in_columns(conn, "sla.followups", encode(new, times=_TIME_OUTPUTS, texts=_TEXT_OUTPUTS))
    new_breaches = _sync_breaches(conn, new, stored if updated else stored.iloc[:0])
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
    updated = conn.execute(
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
        INSERT INTO _sla_changed SELECT lead_id FROM updated
        """
    ).rowcount
    if updated:
        conn.execute("ANALYZE _sla_changed")
    return updated


_BREACHED = ("breached_open", "breached_late")
BREACH_COLUMNS = (
    "lead_id",
    "kind",
    "owner_id",
    "due_at",
    "evaluated_at",
    "escalate_at",
    "breached",
    "resolved_at",
    "resolution",
)


def _instants(values: pd.Series) -> np.ndarray:
    """UTC instants as datetime64[ns] (a tz-aware column's plain `to_numpy()` is an array of objects)."""
    return pd.to_datetime(values, utc=True).to_numpy(dtype="datetime64[ns]")


def breach_candidates(readings: pd.DataFrame) -> pd.DataFrame:
    """Each clock's two promises as rows of sla.breaches (BREACH_COLUMNS), breached (1) or not (0).

    first_touch: due, escalated at, resolved by the first touch or by the exclusion that came first
    ('touched_late' / 'excluded'); accept: the decision deadline, resolved by the decision
    ('decided_late'). The one definition of a breach: new ones are inserted from it, stored ones
    updated or voided against it.
    """
    touch, excluded = _instants(readings["first_touch_at"]), _instants(readings["excluded_at"])
    excluded_first = ~np.isnat(excluded) & (np.isnat(touch) | (excluded < touch))
    decided = _instants(readings["decided_at"])
    common = {"lead_id": readings["lead_id"].to_numpy(), "owner_id": readings["owner_id"].to_numpy()}
    first_touch = pd.DataFrame(
        {
            **common,
            "kind": "first_touch",
            "due_at": _instants(readings["due_at"]),
            "escalate_at": _instants(readings["escalate_at"]),
            "breached": readings["status"].isin(_BREACHED).to_numpy(dtype=np.int64),
            "resolved_at": np.where(excluded_first, excluded, touch),
            "resolution": np.where(
                excluded_first, "excluded", np.where(np.isnat(touch), None, "touched_late")
            ),
        }
    )
    accept = pd.DataFrame(
        {
            **common,
            "kind": "accept",
            "due_at": _instants(readings["accept_due_at"]),
            "escalate_at": _instants(readings["accept_escalate_at"]),
            "breached": readings["accept_status"].isin(_BREACHED).to_numpy(dtype=np.int64),
            "resolved_at": decided,
            "resolution": np.where(np.isnat(decided), None, "decided_late"),
        }
    )
    both = pd.concat([first_touch, accept], ignore_index=True)
    both["evaluated_at"] = np.tile(_instants(readings["evaluated_at"]), 2)
    return both[list(BREACH_COLUMNS)]


def _sync_breaches(conn: psycopg.Connection, new: pd.DataFrame, rewritten: pd.DataFrame) -> int:
    """New breaches in, changed ones updated, voided ones marked `corrected`; returns how many are new.

    `new`: readings of new clocks (only their breached promises matter); `rewritten`: readings of the
    stored clocks this run may have rewritten (_sla_changed says which it did).
    """
    fresh = breach_candidates(new)
    found = pd.concat(
        [fresh[fresh["breached"] == 1].assign(is_new=1), breach_candidates(rewritten).assign(is_new=0)],
        ignore_index=True,
    )
    if found.empty:
        return 0
    conn.execute(
        "CREATE TEMP TABLE _sla_found (lead_id bigint, kind text, owner_id text, due_at timestamptz, "
        "evaluated_at timestamptz, escalate_at timestamptz, breached bigint, resolved_at timestamptz, "
        "resolution text, is_new bigint) ON COMMIT DROP"
    )
    times = ("due_at", "evaluated_at", "escalate_at", "resolved_at")
    copy_in_columns(conn, "_sla_found", encode(found, times=times, texts=("kind", "owner_id", "resolution")))
    if len(rewritten):
        conn.execute(statement("sla", "breaches_update"))
    # A new clock has no breach yet, unless one outlived a clock removed by hand: checked once, so that
    # the common case is a plain insert while such a leftover keeps its row (and its announcement).
    leftovers = conn.execute(
        "SELECT EXISTS (SELECT FROM sla.breaches b JOIN _sla_found x ON x.lead_id = b.lead_id AND x.is_new = 1)"
    ).fetchone()[0]
    guarded = len(rewritten) > 0 or leftovers
    conflict = sql.SQL("ON CONFLICT (lead_id, kind) DO NOTHING" if guarded else "")
    return int(conn.execute(composed("sla", "breaches_insert", conflict=conflict)).rowcount)
