"""Typed, flat copies of the records under check, in `dq_stage`, for Great Expectations to validate.

Raw records are JSON payloads; expectations need columns. One statement per object reads the
records once (JSON fields extracted, timestamps parsed, references resolved by hash joins: see
`rawstage`) and writes an unlogged table that every expectation then scans in the database: nothing
row by row in Python. Tables are named after the validation and dropped when the step using them ends
(`Stages`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from smarketing.quality.rawstage import Selection, raw_stage_sql
from smarketing.sqlfiles import composed

log = logging.getLogger(__name__)

SCHEMA = "dq_stage"
RELEASE_ORIGIN = "dq-release:"
_CAST_ERRORS = (psycopg.errors.DataError,)


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
        """The name for a new staged table (`label` says what it holds), dropped when the block ends."""
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


def _create(conn: psycopg.Connection, statement: sql.Composable, name: str, what: str) -> int:
    """Run a CREATE TABLE ... AS `statement` for the staged table `name`; returns its rows.

    The table's comment starts with its creation time: drop_stale_stages reads it back.
    """
    text = f"staged {datetime.now(UTC):%Y-%m-%dT%H:%M:%S} for validation: {what}"
    with conn.transaction():
        rows = conn.execute(statement).rowcount
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(qualified(name), sql.Literal(text)))
    return rows


# -- raw records ----------------------------------------------------------------------------------
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
            name=qualified(name),
            columns=columns,
            attributes=attributes,
            selection=selection,
            safe_timestamps=safe,
        )
        try:
            return _create(conn, statement, name, f"raw.{object} of {source_system}")
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
    statement = composed(
        "quality",
        "stage_batches",
        name=qualified(name),
        release=sql.Literal(RELEASE_ORIGIN + "%"),
        ids=sql.Literal(list(batch_ids)),
        min_history=sql.Literal(min_history),
        share=sql.Literal(min_share),
        history=sql.Literal(history),
    )
    return _create(conn, statement, name, "new batches")


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
    statement = composed(
        "quality",
        "stage_freshness",
        name=qualified(name),
        release=sql.Literal(RELEASE_ORIGIN + "%"),
        lookback=sql.Literal(lookback_days),
        srcs=sql.Literal([s for s, _, _ in overrides]),
        objs=sql.Literal([o for _, o, _ in overrides]),
        mins=sql.Literal([m for _, _, m in overrides]),
        default=sql.Literal(default_minutes),
    )
    return _create(conn, statement, name, "source freshness")


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
    """Stage the columns the checks of core.<table> read as `name`; returns its rows."""
    statement = sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(
        qualified(name), sql.SQL(_CORE_SELECT[table])
    )  # type: ignore[arg-type]
    return _create(conn, statement, name, f"core.{table}")
