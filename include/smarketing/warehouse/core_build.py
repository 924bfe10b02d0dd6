"""Fold newly landed raw batches into the core model (sql/core/*.sql), then match personas.

One build is one transaction: the SQL steps, the persona update and the per-object watermark
(ops.core_builds.last_batch_id) commit together, so a failed build leaves core as it was and the next
one folds the same batches again. Builds are serialised by an advisory lock; landings may continue
while a build runs (their batches get higher ids and wait for the next build).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from smarketing.paths import CORE_SQL_DIR
from smarketing.tasklog import count, duration, listing, summary
from smarketing.warehouse.connection import connect
from smarketing.warehouse.copy import copy_in_frame, copy_out_csv
from smarketing.warehouse.loading import RAW_OBJECTS, committed_high_water

log = logging.getLogger(__name__)

# Arbitrary constant: one core build at a time per warehouse.
BUILD_LOCK_KEY = 4_242_003
BUILD_WORK_MEM = "256MB"
# A fold this large (raw rows in the window, and this share of the rows core holds) checks core's
# foreign keys once per reference, set-based, instead of once per inserted row: see `_checked_once`.
BULK_MIN_ROWS = 100_000
BULK_SHARE = 0.2
# The step after which the merged leads (_lead_merged) wait for their personas (_lead_personas): the
# next step writes each lead once, persona included (sql/core/035_leads_merge.sql).
PERSONA_STEP = "030_leads"
# What every step reads of a raw object: its rows the quality gate admits. Held records and rejected
# batches never reach core (dq.quarantine, dq.batch_verdicts). One view per object, from this one
# statement; the planner inlines it, so each step plans its anti-joins as if written in place. A
# condition that cannot exclude a row (no record of the object was ever held, no batch was ever
# rejected) is left out of the view: an empty dq.quarantine has no statistics, and the planner rescanned
# it once per raw row (the events step over 4.1M rows: 51.9 s of CPU before, 42.8 s after, its ANALYZE
# narrowed to its keys in the same change set; docs/performance.md).
ADMITTED = "CREATE OR REPLACE TEMP VIEW {view} AS SELECT r.* FROM {raw} r WHERE {conditions}"
HELD = """NOT EXISTS (SELECT 1 FROM dq.held_records h
                  WHERE h.table_name = {name} AND h.batch_id = r.batch_id AND h.record_no = r.record_no)"""
REJECTED = "NOT EXISTS (SELECT 1 FROM dq.rejected_batches x WHERE x.batch_id = r.batch_id)"


class _Match(Protocol):
    job_title_regex: str | None


class Persona(Protocol):
    id: str
    match: _Match


def build_core(
    dsn: str,
    agreement: Any | None,
    *,
    rematch_personas: bool = False,
    validated_only: bool = False,
    sql_dir: Path = CORE_SQL_DIR,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Fold every raw batch not yet in core; returns rows upserted per core table and skipped-row counts.

    `agreement` is the loaded agreement (anything with `.personas`); None skips persona matching.
    Personas are matched on the leads this build merged (in the same write as their other fields), or
    on every lead with `rematch_personas=True` (after the agreement's personas changed). With
    `validated_only`, the build stops before the first batch the quality gate has not decided on yet (a
    landing that slipped in after the validation waits for the next run's validation instead of reaching
    core unchecked). `timings`, when given, receives the seconds each step took (keyed by the step's file
    stem, plus `personas`, and `foreign_keys` and `analyze` on a bulk fold).
    """
    steps = sorted(sql_dir.glob("*.sql"))
    if not steps:
        raise FileNotFoundError(f"no core build steps in {sql_dir}")
    personas: Sequence[Persona] | None = (
        list(getattr(agreement, "personas", None) or []) if agreement is not None else None
    )
    begun = time.monotonic()
    spent = timings if timings is not None else {}
    with connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK_KEY,))
        # The steps sort and hash whole windows of raw rows; the 4MB default spills them to disk.
        conn.execute(f"SET LOCAL work_mem = '{BUILD_WORK_MEM}'")
        # JIT compiles each wide merge for about a second and wins nothing back at these row counts.
        conn.execute("SET LOCAL jit = off")
        high = committed_high_water(conn)
        if validated_only:
            high = _decided_high_water(conn, high)
        _open_window(conn, high, match_personas=personas is not None)
        bulk = _is_bulk(conn)
        with _checked_once(conn, bulk=bulk, timings=spent):
            _run_steps(conn, steps, personas, spent)
        if bulk:
            _analyze_core(conn, spent)
        rows = conn.execute("SELECT key, n FROM _build_stats ORDER BY key").fetchall()
        stats = {str(key): int(n) for key, n in rows}
        if personas is not None:
            stats.setdefault("leads.personas", 0)
            if rematch_personas:
                started = time.monotonic()
                stats["leads.personas"] += assign_personas(conn, personas, everyone=True)
                spent["personas"] = round(spent.get("personas", 0) + time.monotonic() - started, 3)
        _advance_watermarks(conn, high)
    summary(_headline(high, stats, time.monotonic() - begun))
    return stats


def _run_steps(
    conn: psycopg.Connection,
    steps: Sequence[Path],
    personas: Sequence[Persona] | None,
    spent: dict[str, float],
) -> None:
    """Run the SQL steps in order; after the leads merge (PERSONA_STEP), match its job titles to personas."""
    for step in steps:
        started = time.monotonic()
        conn.execute(step.read_text(encoding="utf-8"))  # type: ignore[arg-type]  # trusted project SQL
        spent[step.stem] = round(time.monotonic() - started, 3)
        log.debug("core build step %s took %.2fs", step.name, spent[step.stem])
        if step.stem == PERSONA_STEP and personas is not None:
            started = time.monotonic()
            _match_merged_titles(conn, personas)
            spent["personas"] = round(time.monotonic() - started, 3)


def _headline(high: int, stats: dict[str, int], seconds: float) -> str:
    """The build's summary line: rows touched per core table, then the records it could not place."""
    touched = {k: n for k, n in stats.items() if "." not in k}
    notes = {k.replace(".", " "): n for k, n in stats.items() if "." in k and n and k != "leads.personas"}
    personas = (
        f"; personas matched on {count(stats['leads.personas'], 'lead')}" if "leads.personas" in stats else ""
    )
    odd = f"; {listing(notes)}" if notes else ""
    return (
        f"core build up to batch {high}: rows touched: {listing(touched)}{personas}{odd}"
        f" in {duration(seconds)}"
    )


def _decided_high_water(conn: psycopg.Connection, high: int) -> int:
    """`high`, lowered to just before the first batch above the build watermark without a verdict."""
    row = conn.execute(
        """
        SELECT min(b.batch_id) FROM ops.load_batches b
        WHERE b.batch_id <= %(high)s
          AND b.batch_id > (SELECT coalesce(min(last_batch_id), 0) FROM ops.core_builds)
          AND NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = b.batch_id)
        """,
        {"high": high},
    ).fetchone()
    undecided = row[0] if row else None
    if undecided is None:
        return high
    log.warning("core build stops before batch %s: the quality gate has not validated it yet", undecided)
    return int(undecided) - 1


def _open_window(conn: psycopg.Connection, high: int, *, match_personas: bool) -> None:
    conn.execute(
        """
        CREATE TEMP TABLE _build_window (object text PRIMARY KEY, low bigint NOT NULL, high bigint NOT NULL)
            ON COMMIT DROP;
        CREATE TEMP TABLE _build_stats (key text PRIMARY KEY, n bigint NOT NULL) ON COMMIT DROP;
        CREATE TEMP TABLE _build_options (match_personas boolean NOT NULL) ON COMMIT DROP;
        """
    )
    conn.execute("INSERT INTO _build_options (match_personas) VALUES (%s)", (match_personas,))
    conn.execute(
        """
        INSERT INTO _build_window (object, low, high)
        SELECT o, COALESCE(b.last_batch_id, 0), greatest(%(high)s, COALESCE(b.last_batch_id, 0))
        FROM unnest(%(objects)s::text[]) AS o
        LEFT JOIN ops.core_builds b ON b.object = o
        """,
        {"high": high, "objects": list(RAW_OBJECTS)},
    )
    row = conn.execute(
        """
        SELECT ARRAY(SELECT o FROM unnest(%(tables)s::text[]) AS o
                     WHERE EXISTS (SELECT 1 FROM dq.held_records h WHERE h.table_name = o)),
               EXISTS (SELECT 1 FROM dq.rejected_batches)
        """,
        {"tables": [f"raw.{obj}" for obj in RAW_OBJECTS]},
    ).fetchone()
    held, rejected = (set(row[0]), bool(row[1])) if row else (set(), False)
    for obj in RAW_OBJECTS:  # temporary views last as long as the build's connection
        name = f"raw.{obj}"
        conditions = [sql.SQL(HELD).format(name=sql.Literal(name))] if name in held else []
        conditions += [sql.SQL(REJECTED)] if rejected else []
        conn.execute(
            sql.SQL(ADMITTED).format(
                view=sql.Identifier(f"_admitted_{obj}"),
                raw=sql.Identifier("raw", obj),
                conditions=sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true"),
            )
        )


def _is_bulk(conn: psycopg.Connection) -> bool:
    """Whether the window is a bulk fold: at least BULK_MIN_ROWS raw rows and BULK_SHARE of core's rows."""
    row = conn.execute(
        """
        SELECT (SELECT coalesce(sum(b.row_count), 0) FROM ops.load_batches b
                JOIN _build_window w ON w.object = b.object AND b.batch_id > w.low AND b.batch_id <= w.high),
               (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c
                WHERE c.relnamespace = 'core'::regnamespace AND c.relkind = 'r')
        """
    ).fetchone()
    window, core = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
    return window >= BULK_MIN_ROWS and window >= BULK_SHARE * core


@contextmanager
def _checked_once(conn: psycopg.Connection, *, bulk: bool, timings: dict[str, float]) -> Iterator[None]:
    """Around a bulk fold, check each foreign key of core once, set-based, instead of once per row.

    A foreign key checks every inserted row with its own lookup (and row lock) of the referenced row:
    on a first load that is tens of millions of lookups. For a bulk fold the constraints are dropped,
    the steps run, and each is added back `NOT VALID` and validated: one anti-join of the whole table
    against the referenced keys, inside the build's transaction, so a violation fails the build and
    rolls everything back as a per-row check would. The drop holds core's tables exclusively until the
    build commits; a small (hourly) fold keeps the per-row checks and the readers.
    """
    if not bulk:
        yield
        return
    keys = conn.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.connamespace = 'core'::regnamespace
        ORDER BY 1, 2
        """
    ).fetchall()
    for table, name, _ in keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))
        )
    yield
    started = time.monotonic()
    for table, name, definition in keys:
        target = sql.SQL(table)  # regclass text: already quoted where it needs to be
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
                target, sql.Identifier(name), sql.SQL(definition)
            )
        )
        conn.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, sql.Identifier(name)))
    timings["foreign_keys"] = round(time.monotonic() - started, 3)
    log.info("core build validated %d foreign keys once each in %.2fs", len(keys), timings["foreign_keys"])


def _analyze_core(conn: psycopg.Connection, timings: dict[str, float]) -> None:
    """ANALYZE every core table after a bulk fold, in the build's transaction.

    A bulk fold changes core's size by a large share (a first load fills it from nothing); the next
    fold plans its joins and `ON CONFLICT` probes with whatever statistics the tables have, and
    autovacuum's analyze comes minutes later if it is on at all. Without them the first hourly fold
    after a first load planned its 966 events against a 4M-row table it believed empty: 18 s.
    """
    started = time.monotonic()
    tables = conn.execute(
        "SELECT c.oid::regclass::text FROM pg_class c"
        " WHERE c.relnamespace = 'core'::regnamespace AND c.relkind = 'r' ORDER BY 1"
    ).fetchall()
    for (table,) in tables:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(table)))  # regclass text: quoted already
    timings["analyze"] = round(time.monotonic() - started, 3)


def _advance_watermarks(conn: psycopg.Connection, high: int) -> None:
    conn.execute(
        """
        INSERT INTO ops.core_builds (object, last_batch_id, built_at)
        SELECT o, %(high)s, now() FROM unnest(%(objects)s::text[]) AS o
        ON CONFLICT (object) DO UPDATE
           SET last_batch_id = EXCLUDED.last_batch_id, built_at = EXCLUDED.built_at
         WHERE ops.core_builds.last_batch_id < EXCLUDED.last_batch_id
        """,
        {"high": high, "objects": list(RAW_OBJECTS)},
    )


# -- personas ---------------------------------------------------------------------------------------
def _match_merged_titles(conn: psycopg.Connection, personas: Sequence[Persona]) -> None:
    """Fill _lead_personas with the persona of every distinct job title the leads step merged."""
    titles = copy_out_csv(
        conn, sql.SQL("SELECT DISTINCT job_title FROM _lead_merged WHERE job_title IS NOT NULL")
    )
    if not titles.empty:
        chosen = match_personas(titles["job_title"], personas)
        frame = pd.DataFrame({"job_title": titles["job_title"], "persona_id": chosen})
        copy_in_frame(conn, "_lead_personas", frame)
    conn.execute("ANALYZE _lead_personas")


def assign_personas(conn: psycopg.Connection, personas: Sequence[Persona], *, everyone: bool = False) -> int:
    """Set core.leads.persona_id from the first persona whose job_title_regex matches (RE2).

    Works on the leads this build touched (`_touched_leads`), or all leads. Returns leads changed.
    Only the distinct job titles leave the database and are matched; the leads take their title's
    persona in one join (a first load's 200k leads share a few hundred titles).
    """
    if everyone:
        scope = sql.SQL("core.leads l")
    else:
        conn.execute(
            "CREATE TEMP TABLE _persona_leads ON COMMIT DROP AS SELECT DISTINCT lead_id FROM _touched_leads;"
            " ANALYZE _persona_leads"
        )
        scope = sql.SQL("core.leads l JOIN _persona_leads t USING (lead_id)")
    titles = copy_out_csv(
        conn, sql.SQL("SELECT DISTINCT l.job_title FROM {} WHERE l.job_title IS NOT NULL").format(scope)
    )
    conn.execute("CREATE TEMP TABLE _personas (job_title text PRIMARY KEY, persona_id text) ON COMMIT DROP")
    if not titles.empty:
        chosen = match_personas(titles["job_title"], personas)
        copy_in_frame(
            conn, "_personas", pd.DataFrame({"job_title": titles["job_title"], "persona_id": chosen})
        )
    conn.execute("ANALYZE _personas")
    # a title no persona matches, and no title at all, mean no persona
    changed = conn.execute(
        sql.SQL(
            """
            UPDATE core.leads u SET persona_id = x.persona_id
            FROM (SELECT l.lead_id, p.persona_id FROM {} LEFT JOIN _personas p ON p.job_title = l.job_title) x
            WHERE u.lead_id = x.lead_id AND u.persona_id IS DISTINCT FROM x.persona_id
            """
        ).format(scope)
    ).rowcount
    conn.execute("DROP TABLE _personas")
    if not everyone:
        conn.execute("DROP TABLE _persona_leads")
    return changed


def match_personas(job_titles: pd.Series, personas: Sequence[Persona]) -> pd.Series:
    """The id of the first persona whose regex matches each title (None when none does).

    Each distinct title is searched once per persona with RE2 (`smarketing.config.patterns`): linear
    time, so a pattern like `^(a+)+$` cannot stall the build as Python's backtracking `re` would.
    """
    from smarketing.config.patterns import pattern_hits

    codes, distinct = pd.factorize(job_titles, use_na_sentinel=True)
    titles = pd.Series(distinct, dtype="string[pyarrow]")  # converted once, searched once per persona
    chosen = np.full(len(titles), None, dtype=object)
    for persona in personas:  # a handful of personas, each matched on every distinct title at once
        pattern = getattr(getattr(persona, "match", None), "job_title_regex", None)
        if pattern:
            hit = pattern_hits(titles, pattern) & pd.isna(chosen)
            chosen[hit] = persona.id
    per_lead = np.full(len(codes), None, dtype=object)
    known = codes >= 0
    per_lead[known] = chosen[codes[known]]
    return pd.Series(per_lead, index=job_titles.index, dtype=object)
