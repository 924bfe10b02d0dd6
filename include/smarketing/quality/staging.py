"""Typed, flat copies of the records under check, in `dq_stage`, for Great Expectations to validate.

Raw records are JSON payloads; expectations need columns. One statement per object reads the
records once (JSON fields extracted, timestamps parsed, references resolved by hash joins) and writes
an unlogged table that every expectation then scans in the database: nothing row by row in Python.
Tables are named after the validation and dropped when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from smarketing.quality.checks import REFERENCES
from smarketing.sources.mapping import CANONICAL_FIELDS

log = logging.getLogger(__name__)

SCHEMA = "dq_stage"
RELEASE_ORIGIN = "dq-release:"
# batch_key (batch and id) is staged only when a check asks for it: several batches in one stage.
RAW_KEYS = ("batch_id", "record_no", "source_id")
# Timestamps the fast path accepts before casting; dq.to_utc_timestamp applies the same test.
# The form every source lands (+00:00) is tested first: OR stops at the first match.
_TS_GUARD = (
    "({v} LIKE '____-__-__T__:__:__%' AND ({v} LIKE '%+__:__' OR {v} LIKE '%Z' OR {v} LIKE '%-__:__'))"
)
_CAST_ERRORS = (psycopg.errors.DataError,)


@dataclass(frozen=True)
class Selection:
    """Which raw records to stage: these batches, or the records of a source held in quarantine."""

    batch_ids: tuple[int, ...] = ()
    held: bool = False
    # With `held`: leave out records this validation run has just quarantined (nothing changed for them).
    not_from_validation: int | None = None


def stage_name(token: str, label: str) -> str:
    return f"v{token}_{label}"[:63]


def qualified(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(name))


class Stages:
    """The staged tables of one validation (all named `v<token>_...`).

    Every table is made inside `with stages.table(label) as name:` and dropped when that block ends,
    however it ends: a step that stops early (nothing left to check) cannot leave its table behind for
    a later step. Names are numbered, so no two steps of one validation ever share one.
    """

    def __init__(self, conn: psycopg.Connection, token: str) -> None:
        self.conn, self.token = conn, token
        self._made = 0

    @contextmanager
    def table(self, label: str) -> Iterator[str]:
        self._made += 1
        name = stage_name(self.token, f"{self._made}_{label}")
        try:
            yield name
        finally:
            # A broken connection cannot drop anything: drop_stages / drop_stale_stages clean up later.
            if not (self.conn.closed or self.conn.broken):
                self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(name)))

    def drop_all(self) -> None:
        """Drop whatever this validation left (the safety net when a step died mid-way)."""
        if not (self.conn.closed or self.conn.broken):
            drop_stages(self.conn, self.token)


def drop_stages(conn: psycopg.Connection, token: str) -> None:
    """Drop every staged table of one validation (also those a crashed attempt left behind)."""
    names = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
        (SCHEMA, f"v{token}_%"),
    ).fetchall()
    for (name,) in names:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(name)))


def drop_stale_stages(conn: psycopg.Connection, older_than_hours: int = 24) -> int:
    """Drop staged tables left by validations that died more than `older_than_hours` ago."""
    from datetime import UTC, datetime, timedelta

    cutoff = "staged " + (datetime.now(UTC) - timedelta(hours=older_than_hours)).strftime("%Y-%m-%dT%H:%M:%S")
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind = 'r' AND COALESCE(obj_description(c.oid, 'pg_class'), '') < %s
        """,
        (SCHEMA, cutoff),
    ).fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(name)))
    return len(rows)


def _comment(conn: psycopg.Connection, name: str, what: str) -> None:
    # The comment starts with the creation time: drop_stale_stages reads it back.
    from datetime import UTC, datetime

    text = f"staged {datetime.now(UTC):%Y-%m-%dT%H:%M:%S} for validation: {what}"
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(qualified(name), sql.Literal(text)))


# -- raw records ----------------------------------------------------------------------------------
def _not_held(alias: str, table: str) -> sql.Composable:
    return sql.SQL(
        "NOT EXISTS (SELECT 1 FROM dq.quarantine q WHERE q.table_name = {t} AND q.batch_id = {a}.batch_id"
        " AND q.record_no = {a}.record_no)"
        " AND NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = {a}.batch_id AND v.verdict = 'rejected')"
    ).format(t=sql.Literal(table), a=sql.Identifier(alias))


def _text(name: str) -> sql.Identifier:
    return sql.Identifier(f"{name}__text")


def _timestamp(value: sql.Composable, safe: bool) -> sql.Composable:
    if safe:
        return sql.SQL("dq.to_utc_timestamp({})").format(value)
    guard = sql.SQL(_TS_GUARD.replace("{v}", "{0}")).format(value)
    return sql.SQL("CASE WHEN {} THEN {}::timestamptz END").format(guard, value)


def raw_stage_sql(
    *,
    object: str,
    source_system: str,
    name: str,
    columns: Iterable[str],
    attributes: Mapping[str, str],
    selection: Selection,
    safe_timestamps: bool,
) -> sql.Composed:
    """CREATE TABLE statement staging raw.<object> records of one source system.

    Three levels, each fenced with OFFSET 0 so nothing is computed twice: the JSON fields are extracted
    once (e), then typed and resolved (t), then the unparseable timestamps are told apart (outer).
    """
    kinds = CANONICAL_FIELDS[object]
    columns = list(columns)
    parsed = [c.removesuffix("__unparsed") for c in columns if c.endswith("__unparsed")]
    wanted = list(dict.fromkeys([*RAW_KEYS, *parsed, *columns]))
    extracted: dict[str, sql.Composable] = {}  # e-level columns, by name
    typed: list[sql.Composable] = []  # t-level columns
    outer: list[sql.Composable] = []
    joins: list[sql.Composable] = []
    src = sql.Literal(source_system)

    def text_of(field_name: str) -> sql.Composable:
        key = f"{field_name}__text"
        if key not in extracted:
            extracted[key] = sql.SQL("(r.payload->>{}) AS {}").format(
                sql.Literal(field_name), _text(field_name)
            )
        return sql.SQL("e.{}").format(_text(field_name))

    for column in wanted:
        ident = sql.Identifier(column)
        if column in ("batch_id", "record_no"):
            extracted[column] = sql.SQL("r.{}").format(ident)
            typed.append(sql.SQL("e.{}").format(ident))
        elif column == "source_id":
            extracted[column] = sql.SQL('r.source_id COLLATE "C" AS source_id')
            typed.append(sql.SQL("e.source_id"))
        elif column == "batch_key":
            typed.append(sql.SQL("(e.batch_id::text || '|' || e.source_id) COLLATE \"C\" AS batch_key"))
        elif column in attributes:
            extracted[column] = sql.SQL("(r.payload->'attributes'->>{}) AS {}").format(
                sql.Literal(attributes[column]), ident
            )
            typed.append(sql.SQL("e.{}").format(ident))
        elif column.endswith("__unparsed"):
            base = column.removesuffix("__unparsed")
            typed.append(sql.SQL("{} AS {}").format(text_of(base), _text(base)))
            # left(): an unparseable value is shown to nobody, but a huge one should not bloat the stage.
            outer.append(
                sql.SQL(
                    "CASE WHEN t.{x} IS NOT NULL AND t.{b} IS NULL THEN left(t.{x}, 40) END AS {c}"
                ).format(x=_text(base), b=sql.Identifier(base), c=ident)
            )
            continue
        elif column.endswith("__given"):
            base = column.removesuffix("__given")
            typed.append(sql.SQL("CASE WHEN {} IS NOT NULL THEN true END AS {}").format(text_of(base), ident))
        elif column.endswith("__type"):
            base = column.removesuffix("__type")
            extracted[column] = sql.SQL("NULLIF(jsonb_typeof(r.payload->{}), 'null') AS {}").format(
                sql.Literal(base), ident
            )
            typed.append(sql.SQL("e.{}").format(ident))
        elif column.endswith("__found"):
            base = column.removesuffix("__found")
            target = REFERENCES[(object, base)][0]
            alias = sql.Identifier(f"ref_{len(joins)}")
            value = text_of(base)
            joins.append(
                sql.SQL(
                    "LEFT JOIN (SELECT DISTINCT x.source_id FROM raw.{target} x WHERE x.source_system = {src}"
                    " AND {not_held}) {alias} ON {alias}.source_id = {value}"
                ).format(
                    target=sql.Identifier(target),
                    src=src,
                    not_held=_not_held("x", f"raw.{target}"),
                    alias=alias,
                    value=value,
                )
            )
            typed.append(
                sql.SQL("CASE WHEN {v} IS NULL THEN NULL ELSE {a}.source_id IS NOT NULL END AS {c}").format(
                    v=value, a=alias, c=ident
                )
            )
        elif kinds.get(column) == "timestamp":
            typed.append(sql.SQL("{} AS {}").format(_timestamp(text_of(column), safe_timestamps), ident))
        elif kinds.get(column) in ("integer", "number", "boolean"):
            cast = sql.SQL("boolean" if kinds[column] == "boolean" else "numeric")
            json_type = "boolean" if kinds[column] == "boolean" else "number"
            extracted[f"{column}__jtype"] = sql.SQL("jsonb_typeof(r.payload->{}) AS {}").format(
                sql.Literal(column), sql.Identifier(f"{column}__jtype")
            )
            typed.append(
                sql.SQL("CASE WHEN e.{j} = {jt} THEN {v}::{cast} END AS {c}").format(
                    j=sql.Identifier(f"{column}__jtype"),
                    jt=sql.Literal(json_type),
                    v=text_of(column),
                    cast=cast,
                    c=ident,
                )
            )
        elif kinds.get(column) == "text":
            typed.append(sql.SQL("{} AS {}").format(text_of(column), ident))
        else:
            raise ValueError(f"no staged column '{column}' for raw.{object}")
        outer.append(sql.SQL("t.{}").format(ident))
    if selection.held:
        # Records of rejected batches wait for the batch to be admitted, not for a recheck.
        # Driven from the (small) quarantine through raw's primary key, not by scanning the source's records.
        where = sql.SQL(
            "(r.batch_id, r.record_no) IN (SELECT q.batch_id, q.record_no FROM dq.quarantine q"
            " WHERE q.table_name = {t} AND q.source_system = {src} AND q.status = 'held'"
            " AND q.validation_run_id IS DISTINCT FROM {vr}"
            " AND NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = q.batch_id AND v.verdict = 'rejected'))"
        ).format(src=src, t=sql.Literal(f"raw.{object}"), vr=sql.Literal(selection.not_from_validation))
    else:
        # A batch holds one source system's records: the batch ids alone select them (one index, not two).
        where = sql.SQL("r.batch_id = ANY({}::bigint[])").format(sql.Literal(list(selection.batch_ids)))
    return sql.SQL(
        "CREATE UNLOGGED TABLE {name} AS SELECT {outer} FROM ("
        "SELECT {typed} FROM (SELECT {extracted} FROM raw.{obj} r WHERE {where} OFFSET 0) e"
        " {joins} OFFSET 0) t"
    ).format(
        name=qualified(name),
        outer=sql.SQL(", ").join(outer),
        typed=sql.SQL(", ").join(typed),
        extracted=sql.SQL(", ").join(extracted.values()),
        obj=sql.Identifier(object),
        src=src,
        where=where,
        joins=sql.SQL(" ").join(joins),
    )


def stage_raw(
    conn: psycopg.Connection,
    *,
    object: str,
    source_system: str,
    name: str,
    columns: Iterable[str],
    attributes: Mapping[str, str],
    selection: Selection,
) -> int:
    """Stage the selected records; returns how many. `conn` must be in autocommit mode."""
    columns = list(columns)
    for safe in (False, True):
        statement = raw_stage_sql(
            object=object,
            source_system=source_system,
            name=name,
            columns=columns,
            attributes=attributes,
            selection=selection,
            safe_timestamps=safe,
        )
        try:
            with conn.transaction():
                rows = conn.execute(statement).rowcount
                _comment(conn, name, f"raw.{object} of {source_system}")
            return rows
        except _CAST_ERRORS as exc:
            if safe:
                raise
            # A value looks like a timestamp but is not one (2026-02-30): parse value by value instead.
            log.info(
                "raw.%s of %s: a timestamp failed the fast parse (%s); parsing one by one",
                object,
                source_system,
                type(exc).__name__,
            )
    raise AssertionError("unreachable")


# -- batches and sources ----------------------------------------------------------------------------
def stage_batches(
    conn: psycopg.Connection,
    *,
    name: str,
    batch_ids: Sequence[int],
    history: int,
    min_history: int,
    min_share: float,
) -> int:
    """One row per batch: its rows, the rows of its delivery (what one run landed for its source and
    object) and the least a delivery should hold given the recent ones (NULL with too little history)."""
    statement = sql.SQL(
        """
        CREATE UNLOGGED TABLE {name} AS
        WITH deliveries AS (
            SELECT source_system, object, COALESCE(run_id, 'batch:' || batch_id) AS delivery,
                   sum(row_count)::bigint AS rows, max(batch_id) AS last_batch, min(batch_id) AS first_batch
            FROM ops.load_batches
            WHERE origin NOT LIKE {release}
            GROUP BY 1, 2, 3
        ),
        new AS (
            SELECT d.* FROM deliveries d
            WHERE EXISTS (SELECT 1 FROM ops.load_batches b
                          WHERE b.batch_id = ANY({ids}::bigint[]) AND b.source_system = d.source_system AND b.object = d.object
                            AND COALESCE(b.run_id, 'batch:' || b.batch_id) = d.delivery)
        ),
        usual AS (
            SELECT n.source_system, n.object, n.delivery,
                   (SELECT CASE WHEN count(*) >= {min_history}
                                THEN floor({share} * percentile_cont(0.5) WITHIN GROUP (ORDER BY h.rows)) END
                    FROM (SELECT p.rows FROM deliveries p
                          WHERE p.source_system = n.source_system AND p.object = n.object
                            AND p.last_batch < n.first_batch AND p.rows > 0
                          ORDER BY p.last_batch DESC LIMIT {history}) h) AS min_usual_rows
            FROM new n
        )
        SELECT b.batch_id, b.source_system, b.object, b.row_count::bigint AS row_count,
               n.rows AS delivery_rows, u.min_usual_rows::bigint AS min_usual_rows
        FROM ops.load_batches b
        JOIN new n ON n.source_system = b.source_system AND n.object = b.object
                  AND n.delivery = COALESCE(b.run_id, 'batch:' || b.batch_id)
        JOIN usual u ON u.source_system = n.source_system AND u.object = n.object AND u.delivery = n.delivery
        WHERE b.batch_id = ANY({ids}::bigint[])
        """
    ).format(
        name=qualified(name),
        release=sql.Literal(RELEASE_ORIGIN + "%"),
        ids=sql.Literal(list(batch_ids)),
        min_history=sql.Literal(min_history),
        share=sql.Literal(min_share),
        history=sql.Literal(history),
    )
    with conn.transaction():
        rows = conn.execute(statement).rowcount
        _comment(conn, name, "new batches")
    return rows


def stage_freshness(
    conn: psycopg.Connection,
    *,
    name: str,
    max_age_minutes: Mapping[tuple[str, str], int],
    default_minutes: int,
    lookback_days: int,
) -> int:
    """One row per source system and object seen recently: hours since its last non-empty batch."""
    overrides = [(s, o, m) for (s, o), m in max_age_minutes.items()]
    statement = sql.SQL(
        """
        CREATE UNLOGGED TABLE {name} AS
        WITH seen AS (
            SELECT source_system, object, max(loaded_at) FILTER (WHERE row_count > 0) AS last_data_at
            FROM ops.load_batches
            WHERE origin NOT LIKE {release}
            GROUP BY 1, 2
            HAVING max(loaded_at) > now() - make_interval(days => {lookback})
        ),
        limits AS (
            SELECT * FROM unnest({srcs}::text[], {objs}::text[], {mins}::int[]) AS l(source_system, object, minutes)
        )
        SELECT s.source_system || '.' || s.object AS source_object, s.source_system, s.object,
               -- a source that never delivered a record is as stale as can be
               CASE WHEN s.last_data_at IS NULL THEN 999999
                    ELSE round((extract(epoch FROM now() - s.last_data_at) / 3600)::numeric, 2) END AS age_hours,
               round(COALESCE(l.minutes, {default}) / 60.0, 2) AS max_age_hours
        FROM seen s LEFT JOIN limits l USING (source_system, object)
        """
    ).format(
        name=qualified(name),
        release=sql.Literal(RELEASE_ORIGIN + "%"),
        lookback=sql.Literal(lookback_days),
        srcs=sql.Literal([s for s, _, _ in overrides]),
        objs=sql.Literal([o for _, o, _ in overrides]),
        mins=sql.Literal([m for _, _, m in overrides]),
        default=sql.Literal(default_minutes),
    )
    with conn.transaction():
        rows = conn.execute(statement).rowcount
        _comment(conn, name, "source freshness")
    return rows


# -- core tables ----------------------------------------------------------------------------------
_CORE_SELECT: dict[str, str] = {
    "leads": """
        SELECT l.lead_id, l.email_normalized, l.lifecycle_stage, l.persona_id, l.owner_id, l.created_at,
               CASE WHEN l.owner_id IS NULL THEN NULL ELSE o.owner_id IS NOT NULL END AS owner_id__found
        FROM core.leads l LEFT JOIN core.owners o ON o.owner_id = l.owner_id""",
    "companies": "SELECT company_id, employees, annual_revenue FROM core.companies",
    "owners": """
        SELECT o.owner_id, o.manager_id,
               CASE WHEN o.manager_id IS NULL THEN NULL ELSE m.owner_id IS NOT NULL END AS manager_id__found
        FROM core.owners o LEFT JOIN core.owners m ON m.owner_id = o.manager_id""",
    "marketing_events": "SELECT event_id, event_type, occurred_at FROM core.marketing_events",
    "sales_activities": """
        SELECT a.activity_id, a.owner_id, a.occurred_at,
               CASE WHEN a.owner_id IS NULL THEN NULL ELSE o.owner_id IS NOT NULL END AS owner_id__found
        FROM core.sales_activities a LEFT JOIN core.owners o ON o.owner_id = a.owner_id""",
    "deals": """
        SELECT d.deal_id, d.amount, d.created_at, d.closed_at, l.created_at AS lead_created_at
        FROM core.deals d LEFT JOIN core.leads l ON l.lead_id = d.lead_id""",
    "lifecycle_history": """
        SELECT h.lead_id::text || '|' || h.stage || '|' || h.source_system AS row_key, h.stage, h.entered_at
        FROM core.lifecycle_history h""",
}


def stage_core(conn: psycopg.Connection, *, table: str, name: str) -> int:
    statement = sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(
        qualified(name), sql.SQL(_CORE_SELECT[table])
    )  # type: ignore[arg-type]
    with conn.transaction():
        rows = conn.execute(statement).rowcount
        _comment(conn, name, f"core.{table}")
    return rows
