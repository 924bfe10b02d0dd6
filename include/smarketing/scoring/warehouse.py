"""Reading scoring inputs from the warehouse and writing its outputs, one lead-id shard at a time.

Events leave PostgreSQL as (lead_id, occurred_at, predicate mask) in binary COPY: the database does
the filtering (event types, topics, campaigns, pages) while it streams, and no text is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from smarketing.scoring.events import predicate_event_types, predicate_join_sql, predicate_mask_sql
from smarketing.scoring.kernel import US_PER_DAY, EventArrays
from smarketing.scoring.model import ScoringModel
from smarketing.warehouse.connection import connect
from smarketing.warehouse.copy import copy_in_fixed, copy_in_frame, copy_out_csv, copy_out_fixed
from smarketing.warehouse.core_build import BUILD_LOCK_KEY

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(us: int) -> datetime:
    """Microseconds since the Unix epoch as an exact aware datetime (psycopg sends it as timestamptz)."""
    return EPOCH + timedelta(microseconds=int(us))


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Shard:
    number: int
    low: int  # lead ids from low to high, both included
    high: int


EVERY_LEAD = Shard(0, -(2**63), 2**63 - 1)


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------
def field_expression(name: str) -> sql.Composable:
    """SQL for a rule field over core.leads `l` LEFT JOIN core.companies `c`."""
    from smarketing.config import resolve_field

    ref = resolve_field(name)
    alias = "l" if ref.table == "leads" else "c"
    if ref.attribute is not None:
        return sql.SQL("{}.attributes ->> {}").format(sql.Identifier(alias), sql.Literal(ref.attribute))
    return sql.SQL("{}.{}::text").format(sql.Identifier(alias), sql.Identifier(ref.column))


def read_leads(conn: psycopg.Connection, model: ScoringModel, shard: Shard, as_of_us: int) -> pd.DataFrame:
    """The shard's leads existing at `as_of` (created then or earlier, or of unknown creation, and not
    deleted by then), sorted by id, with one text column per fit field named after the field."""
    fields = model.fit_fields()
    selected = [sql.SQL("l.lead_id")] + [
        sql.SQL("{} AS {}").format(field_expression(f), sql.Identifier(f)) for f in fields
    ]
    query = sql.SQL(
        """
        SELECT {columns}
        FROM core.leads l LEFT JOIN core.companies c ON c.company_id = l.company_id
        WHERE l.lead_id BETWEEN %(low)s AND %(high)s
          AND (l.created_at IS NULL OR l.created_at <= %(as_of)s)
          -- a lead deleted since its last scoring drops out and its scores go with it (see `gone`)
          AND (l.deleted_at IS NULL OR l.deleted_at > %(as_of)s)
        ORDER BY l.lead_id
        """
    ).format(columns=sql.SQL(", ").join(selected))
    frame = copy_out_csv(
        conn,
        query,
        {"low": shard.low, "high": shard.high, "as_of": instant(as_of_us)},
        types={"lead_id": pa.int64()},
    )
    if frame.empty:
        return pd.DataFrame(
            {"lead_id": np.zeros(0, np.int64), **{f: pd.Series(dtype="string") for f in fields}}
        )
    return frame


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------
_EVENT_COLUMNS = (("lead_id", "int8"), ("occurred_at", "timestamptz"), ("mask", "int8"))


DENSE = 4  # ids spanning less than this many times their count are looked up in a table


def positions(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index of each of `wanted` in `ids` (sorted, unique), and whether it is there at all (0 where not).

    Lead ids are mostly consecutive: when they span less than `DENSE` times their count, one lookup
    table indexed by id answers every event in one gather, where a binary search per event cost 0.2 s
    per 700k events. Sparse ids are searched."""
    if not len(ids):
        return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
    low, high = int(ids[0]), int(ids[-1])
    if high - low < DENSE * len(ids):
        table = np.full(high - low + 1, -1, dtype=np.int64)
        table[ids - low] = np.arange(len(ids))
        inside = np.flatnonzero((wanted >= low) & (wanted <= high))
        position = np.full(len(wanted), -1, dtype=np.int64)
        position[inside] = table[wanted[inside] - low]
        known = position >= 0
        return np.maximum(position, 0), known
    position = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1).astype(np.int64)
    return position, ids[position] == wanted


def events_of(rows: dict[str, np.ndarray], lead_ids: np.ndarray) -> EventArrays:
    """Events of rows read by `read_history_rows` (or alike) whose lead is in `lead_ids` (sorted) and
    that match a predicate, with lead ids turned into row indices."""
    position, known = positions(lead_ids, rows["lead_id"])
    keep = known & (rows["mask"] != 0)
    return EventArrays(position[keep], rows["occurred_at"][keep], rows["mask"][keep])


def read_history(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    lead_ids: np.ndarray,
    as_of_us: int,
    *,
    only: np.ndarray | None = None,
) -> EventArrays:
    """Every scoring-relevant event of the shard's leads (or of `only` of them) up to `as_of`."""
    return events_of(read_history_rows(conn, model, shard, as_of_us, only=only), lead_ids)


def split_rows(rows: dict[str, np.ndarray], shards: Sequence[Shard]) -> list[dict[str, np.ndarray]]:
    """Rows of `read_history_rows` cut by the lead-id ranges of `shards`, one dict per shard."""
    lead = rows["lead_id"]
    parts = []
    for shard in shards:
        mine = np.flatnonzero((lead >= shard.low) & (lead <= shard.high))
        parts.append({name: values[mine] for name, values in rows.items()})
    return parts


def read_history_rows(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    as_of_us: int,
    *,
    only: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`read_history`'s rows as read: lead_id, occurred_at (µs) and mask, of every lead of the shard."""
    if not model.predicates:
        return {name: np.zeros(0, np.int64) for name, _ in _EVENT_COLUMNS}
    leads_filter = (
        sql.SQL("e.lead_id BETWEEN %(low)s AND %(high)s")
        if only is None
        else sql.SQL("e.lead_id = ANY(%(only)s)")
    )
    join, mask = predicate_join_sql(model.predicates, alias="e")
    query = sql.SQL(
        """
        SELECT e.lead_id, e.occurred_at, {mask} AS mask FROM core.marketing_events e {join}
        WHERE {leads} AND e.occurred_at <= %(as_of)s
        """
    ).format(mask=mask, join=join, leads=leads_filter)
    params = {
        "low": shard.low,
        "high": shard.high,
        "only": None if only is None else only.tolist(),
        "as_of": instant(as_of_us),
    }
    return copy_out_fixed(conn, query, _EVENT_COLUMNS, params)


@contextmanager
def history_of_shards(
    dsn: str, model: ScoringModel, shards: Sequence[Shard], as_of_us: int, *, full: bool
) -> Iterator[list[dict[str, np.ndarray] | None]]:
    """Each shard's events up to `as_of` for `runner.score_shard`, on a `full` rescore of several shards
    in this process: read in one pass and cut by lead-id range (None per shard otherwise: each reads its
    own).

    The events of a lead-id range are spread over the whole table, so each shard's read visited nearly
    every page again (4 shards of 200k leads / 2.8M events: 3.7-4.3 s of server CPU, one pass 1.6-2.0 s).
    The core build's lock is held shared from the read until the block ends, on a session of its own:
    no build commits between this read and the shards' own reads of leads, as none does within a shard.
    """
    if not full or len(shards) < 2 or not model.predicates:
        yield [None] * len(shards)
        return
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock_shared(%s)", (BUILD_LOCK_KEY,))
        try:
            rows = read_history_rows(conn, model, EVERY_LEAD, as_of_us)
            parts: list[dict[str, np.ndarray] | None] = list(split_rows(rows, shards))
            del rows
            yield parts
        finally:
            conn.execute("SELECT pg_advisory_unlock_shared(%s)", (BUILD_LOCK_KEY,))


def read_time_ranges(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    lead_ids: np.ndarray,
    ranges: Sequence[tuple[int, int]],
) -> EventArrays:
    """Events of the shard's leads with start <= occurred_at < end for any (start, end) of `ranges`."""
    if not ranges or not model.predicates:
        return EventArrays.empty()
    conditions = sql.SQL(" OR ").join(
        sql.SQL("(e.occurred_at >= {} AND e.occurred_at < {})").format(
            sql.Literal(instant(start)), sql.Literal(instant(end))
        )
        for start, end in ranges
    )
    join, mask = predicate_join_sql(model.predicates, alias="e")
    query = sql.SQL(
        """
        SELECT e.lead_id, e.occurred_at, {mask} AS mask FROM core.marketing_events e {join}
        WHERE e.lead_id BETWEEN %(low)s AND %(high)s AND ({conditions})
        """
    ).format(mask=mask, join=join, conditions=conditions)
    params = {"low": shard.low, "high": shard.high}
    return events_of(copy_out_fixed(conn, query, _EVENT_COLUMNS, params), lead_ids)


def read_lead_spans(
    conn: psycopg.Connection, model: ScoringModel, lead_ids: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> EventArrays:
    """Events of each of `lead_ids` (sorted, distinct) with starts[i] <= occurred_at < stops[i] (µs), found
    through the (lead_id, occurred_at) index."""
    if not len(lead_ids) or not model.predicates:
        return EventArrays.empty()
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _scoring_spans (lead_id bigint, start timestamptz, stop timestamptz) "
        "ON COMMIT DROP; TRUNCATE _scoring_spans"
    )
    columns = (("lead_id", "int8"), ("start", "timestamptz"), ("stop", "timestamptz"))
    copy_in_fixed(conn, "_scoring_spans", columns, {"lead_id": lead_ids, "start": starts, "stop": stops})
    conn.execute("ANALYZE _scoring_spans")
    join, mask = predicate_join_sql(model.predicates, alias="e")
    query = sql.SQL(
        """
        SELECT e.lead_id, e.occurred_at, {mask} AS mask
        FROM _scoring_spans s
        JOIN core.marketing_events e ON e.lead_id = s.lead_id AND e.occurred_at >= s.start AND e.occurred_at < s.stop
        {join}
        """
    ).format(mask=mask, join=join)
    return events_of(copy_out_fixed(conn, query, _EVENT_COLUMNS, {}), lead_ids)


def read_event_days(conn: psycopg.Connection, model: ScoringModel, days: pd.DataFrame) -> pd.DataFrame:
    """Events (with their ids) on whole UTC days of some leads: `days` has lead_id and day (days since
    the Unix epoch). Columns: lead_id, t (µs), mask, event_id."""
    empty = _empty(lead_id="int64", t="int64", mask="int64", event_id="object")
    if days.empty or not model.predicates:
        return empty
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _scoring_days (lead_id bigint, day integer) ON COMMIT DROP")
    conn.execute("TRUNCATE _scoring_days")
    copy_in_frame(conn, "_scoring_days", days[["lead_id", "day"]])
    query = sql.SQL(
        """
        SELECT e.lead_id, (extract(epoch FROM e.occurred_at) * 1000000)::int8 AS t, {mask} AS mask, e.event_id
        FROM _scoring_days d
        JOIN core.marketing_events e
          ON e.lead_id = d.lead_id
         AND e.occurred_at >= to_timestamp(d.day::float8 * 86400)
         AND e.occurred_at < to_timestamp((d.day + 1)::float8 * 86400)
        WHERE e.event_type = ANY(%(types)s)
        """
    ).format(mask=predicate_mask_sql(model.predicates, alias="e"))
    frame = copy_out_csv(
        conn,
        query,
        {"types": predicate_event_types(model.predicates)},
        types={"lead_id": pa.int64(), "t": pa.int64(), "mask": pa.int64()},
    )
    return empty if frame.empty else frame


def _empty(**dtypes: str) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})


def read_changes(conn: psycopg.Connection, model: ScoringModel, shard: Shard) -> tuple[pd.DataFrame, int]:
    """The shard's logged event changes (seq, lead_id, event_id, image, t, mask) and the highest seq."""
    high = conn.execute(
        "SELECT COALESCE(max(seq), 0) FROM scoring.event_changes WHERE lead_id BETWEEN %s AND %s",
        (shard.low, shard.high),
    ).fetchone()[0]
    if not high:
        return _empty(
            seq="int64", lead_id="int64", event_id="object", image="object", t="int64", mask="int64"
        ), 0
    query = sql.SQL(
        """
        SELECT seq, lead_id, event_id, image, (extract(epoch FROM occurred_at) * 1000000)::int8 AS t,
               CASE WHEN image = 'old' THEN {mask} ELSE 0 END AS mask
        FROM scoring.event_changes c
        WHERE lead_id BETWEEN %(low)s AND %(high)s AND seq <= %(seq)s
        """
    ).format(mask=predicate_mask_sql(model.predicates, alias="c"))
    frame = copy_out_csv(
        conn,
        query,
        {"low": shard.low, "high": shard.high, "seq": high},
        types={"seq": pa.int64(), "lead_id": pa.int64(), "t": pa.int64(), "mask": pa.int64()},
    )
    return frame, int(high)


# ---------------------------------------------------------------------------------------------
# Previous scores and engine state
# ---------------------------------------------------------------------------------------------
PREVIOUS_TYPES = {
    "lead_id": pa.int64(),
    "as_of": pa.int64(),
    "same_model": pa.bool_(),
    "same_version": pa.bool_(),
    "history_day": pa.int64(),
    "fit": pa.int64(),
    "engagement": pa.float64(),
    "total": pa.float64(),
    "is_mql": pa.bool_(),
    "row_as_of": pa.int64(),
    "capped": pa.float64(),
    "fading": pa.float64(),
    "profile_no": pa.int64(),
    "floor_cents": pa.int64(),
}


def read_previous(conn: psycopg.Connection, model: ScoringModel, shard: Shard) -> pd.DataFrame:
    query = sql.SQL(
        """
        SELECT lead_id, (extract(epoch FROM s.as_of) * 1000000)::int8 AS as_of,
               s.config_hash = %(hash)s AS same_model, s.model_version = %(version)s AS same_version,
               s.history_on - DATE '1970-01-01' AS history_day,
               s.fit, s.engagement, s.total, s.grade, s.engagement_band, s.is_mql, s.profile_id,
               -- What the stored row is shown from (smarketing.scoring.closed).
               (extract(epoch FROM r.as_of) * 1000000)::int8 AS row_as_of, r.capped, r.fading, r.profile_no,
               r.floor_cents
        FROM scoring.lead_scores s JOIN scoring.score_rows r USING (lead_id)
        WHERE lead_id BETWEEN %(low)s AND %(high)s ORDER BY lead_id
        """
    )
    params = {"hash": model.config_hash, "version": model.version, "low": shard.low, "high": shard.high}
    frame = copy_out_csv(conn, query, params, types=PREVIOUS_TYPES)
    if frame.empty:
        return pd.DataFrame(
            {
                name: pd.Series(dtype="object")
                for name in [*PREVIOUS_TYPES, "grade", "engagement_band", "profile_id"]
            }
        )
    return frame


def read_state(
    conn: psycopg.Connection, shard: Shard, as_of_us: int, half_lives: Sequence[float | None]
) -> dict[str, np.ndarray]:
    """The shard's engine state with each value faded to `as_of` (`half_lives[rule_no]`) by
    scoring.faded, the function scoring.contributions reads the state through."""
    query = sql.SQL(
        """
        SELECT lead_id, rule_no, scoring.faded(value, as_of, %(as_of)s, (%(half_lives)s::float8[])[rule_no + 1])
        FROM scoring.rule_state WHERE lead_id BETWEEN %(low)s AND %(high)s
        """
    )
    return copy_out_fixed(
        conn,
        query,
        (("lead_id", "int8"), ("rule_no", "int2"), ("value", "float8")),
        {"low": shard.low, "high": shard.high, "as_of": instant(as_of_us), "half_lives": list(half_lives)},
    )


def read_fit_contributions(
    conn: psycopg.Connection, shard: Shard, columns: Sequence[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """The shard's stored fit contributions as arrays: lead_id, col (index of its (profile, rule) in
    `columns`; -1 for a pair not there) and points."""
    query = sql.SQL(
        """
        SELECT f.lead_id, COALESCE(k.col - 1, -1)::int4, f.points::float8
        FROM scoring.fit_contributions f
        LEFT JOIN unnest(%(profiles)s::text[], %(rules)s::text[]) WITH ORDINALITY AS k(profile_id, rule_id, col)
               ON k.profile_id = f.profile_id AND k.rule_id = f.rule_id
        WHERE f.lead_id BETWEEN %(low)s AND %(high)s
        """
    )
    params = {
        "low": shard.low,
        "high": shard.high,
        "profiles": [p for p, _ in columns],
        "rules": [r for _, r in columns],
    }
    return copy_out_fixed(conn, query, (("lead_id", "int8"), ("col", "int4"), ("points", "float8")), params)


def day_floor(us: int) -> int:
    return us - us % US_PER_DAY


def merge_ranges(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
