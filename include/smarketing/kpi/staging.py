"""The build's staging tables (sql/kpi/stg_*.sql): _kpi_leads, one row per live lead with its dimensions and
funnel moments, and _kpi_deals, one per live deal.

Each lead's row is kept between builds (ops.kpi_lead_stages, migration 0027) with what it was staged as of
(ops.kpi_lead_stages_state: the watermark, the moment, the stage settings). A build stages again only the
leads that moved since (sql/kpi/stg_moved.sql: their record, stages, deals or crossings changed after the
kept watermark, or a fact of theirs lies between the kept moment and the build's) and copies the rows of
its window (stg_window.sql) from the kept table: a one-day refresh reads tens of thousands of leads' rows
and computes a few hundred. Every lead is staged again by a full build, a rebuild from a day (a correction
the watermarks cannot see), after other stage settings, or when nothing is kept (a first build; a crash
empties the unlogged tables). Invariant: every kept row equals what staging the lead as of the kept
moment would give, so the copied rows are those a staging of every lead would give now.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import psycopg

from smarketing.kpi import periods
from smarketing.kpi.models import read_sql

log = logging.getLogger(__name__)


def _stage_settings(params: dict[str, object]) -> dict[str, object]:
    """What a kept row depends on besides the warehouse and the moment."""
    return {"mql_stage": params["mql_stage"], "sql_stages": list(params["sql_stages"])}  # type: ignore[call-overload]


def _kept(conn: psycopg.Connection) -> tuple[periods.Watermark, datetime, dict] | None:
    row = conn.execute("SELECT watermark, as_of, settings FROM ops.kpi_lead_stages_state").fetchone()
    return None if row is None else (periods.Watermark.from_json(row[0]), row[1], row[2])


def _run(cur: psycopg.ClientCursor, name: str, params: dict[str, object]) -> None:
    started = time.monotonic()
    cur.execute(read_sql(name), params)
    log.debug("KPI staging %s took %.2fs", name, time.monotonic() - started)


def keep_lead_stages(
    conn: psycopg.Connection,
    finder: periods.ChangeFinder,
    params: dict[str, object],
    *,
    everything: bool,
) -> bool:
    """Bring ops.kpi_lead_stages to the build's moment (`params["as_of"]`) and watermark: the leads that
    moved are staged again, or every lead when `everything` (or nothing usable is kept). Returns whether
    every lead was staged again."""
    kept = _kept(conn)
    settings = _stage_settings(params)
    everything = everything or kept is None or kept[2] != settings
    moment = params["as_of"]
    with conn.transaction(), psycopg.ClientCursor(conn) as cur:
        cur.execute("DROP TABLE IF EXISTS _kpi_restage")
        if everything:
            cur.execute("CREATE TEMP TABLE _kpi_restage (lead_id bigint PRIMARY KEY)")
            # every row written, then indexed at once (a sorted build), not one index insertion per row
            cur.execute("TRUNCATE ops.kpi_lead_stages")
            cur.execute("ALTER TABLE ops.kpi_lead_stages DROP CONSTRAINT kpi_lead_stages_pkey")
        else:
            mark, as_of, _ = kept  # type: ignore[misc]
            # the session's _kpi_changed_leads: those since `mark`
            finder.months(mark, as_of, in_session=True)
            earlier, later = sorted([as_of, moment])  # type: ignore[type-var]
            _run(cur, "stg_moved", {"moved_from": earlier, "moved_to": later})
        _run(cur, "stg_leads", {**params, "restage_all": everything})
        if everything:
            cur.execute(
                "ALTER TABLE ops.kpi_lead_stages ADD CONSTRAINT kpi_lead_stages_pkey PRIMARY KEY (lead_id)"
            )
        cur.execute(
            "INSERT INTO ops.kpi_lead_stages_state (watermark, as_of, settings) VALUES (%s, %s, %s) "
            "ON CONFLICT (one) DO UPDATE SET watermark = EXCLUDED.watermark, as_of = EXCLUDED.as_of, "
            "settings = EXCLUDED.settings",
            (json.dumps(finder.until.to_json()), moment, json.dumps(settings)),
        )
    if everything:
        conn.execute("ANALYZE ops.kpi_lead_stages")
    return everything


def stage(
    conn: psycopg.Connection,
    finder: periods.ChangeFinder,
    params: dict[str, object],
    *,
    enrolled: bool,
    everything: bool,
) -> None:
    """The session's _kpi_leads and _kpi_deals for the staging window in `params` (build.staging_window);
    with `enrolled`, the nurture ledger's leads too (nurture_monthly reads the steps of every enrolled lead).
    `everything`: every lead staged again (a full build, a rebuild from a day)."""
    _drop_leads(conn)
    conn.execute("DROP TABLE IF EXISTS _kpi_deals")
    keep_lead_stages(conn, finder, params, everything=everything)
    with psycopg.ClientCursor(conn) as cur:
        if params["stage_all"]:
            # every lead: the kept rows themselves, not a copy of them
            cur.execute("CREATE TEMP VIEW _kpi_leads AS SELECT * FROM ops.kpi_lead_stages")
        else:
            _run(cur, "stg_window", params)
            if enrolled:
                cur.execute(
                    "INSERT INTO _kpi_leads SELECT k.* FROM ops.kpi_lead_stages k "
                    "WHERE k.lead_id IN (SELECT lead_id FROM nurture.enrollments) "
                    "AND NOT EXISTS (SELECT 1 FROM _kpi_leads l WHERE l.lead_id = k.lead_id)"
                )
            cur.execute("CREATE UNIQUE INDEX ON _kpi_leads (lead_id)")
            cur.execute("ANALYZE _kpi_leads")
        _run(cur, "stg_deals", params)


def _drop_leads(conn: psycopg.Connection) -> None:
    """_kpi_leads of an earlier build of the session: a view of the kept rows or a copy of some."""
    (kind,) = conn.execute(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass('pg_temp._kpi_leads')"
    ).fetchone() or (None,)
    if kind == "v":
        conn.execute("DROP VIEW _kpi_leads")
    elif kind is not None:
        conn.execute("DROP TABLE _kpi_leads")
