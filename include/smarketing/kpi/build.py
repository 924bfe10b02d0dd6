"""Build the kpi.* tables: the SQL models of sql/kpi/, for the periods touched since each table's watermark.

Invariants:
- One transaction per table and run of contiguous touched months: the range is deleted and rewritten
  from the model in it, and the table's watermark (ops.kpi_state) advances in the transaction of its last
  range. A build that fails half-way leaves every table consistent; the next one redoes what is left.
- A model depends only on the warehouse and the build's moment (`as_of`), never on the wall clock or on
  what the table held: rerunning a build writes byte-identical rows, and rewriting only the touched
  periods gives the same table as a full rebuild (tests/integration/test_kpi_idempotency.py).
- Builds are serialised by an advisory lock; the staging tables (sql/kpi/stg_*.sql) are the session's,
  copied from the leads' kept rows (smarketing.kpi.staging).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
import psycopg
from psycopg import sql

from smarketing import tasklog
from smarketing.kpi import engagement, periods, staging
from smarketing.kpi.goals import load_goal_days
from smarketing.kpi.models import MODELS, KpiModel, read_sql
from smarketing.kpi.settings import KpiSettings
from smarketing.sla.run import as_utc
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

BUILD_LOCK_KEY = 4_242_013  # arbitrary: one KPI build at a time per warehouse
END_OF_TIME = periods.END_OF_TIME
# a goal's facts are read from two days before its period (its SQL's margin for time zones), and one more
GOAL_MARGIN = timedelta(days=3)


@dataclass(frozen=True)
class Insert:
    into: sql.Composed  # INSERT INTO kpi.<table> (<columns>)
    select: sql.Composed  # SELECT <columns> FROM (<model>) AS m
    columns: sql.Composed  # <columns>


@dataclass
class TablePlan:
    model: KpiModel
    mode: str  # full | incremental
    ranges: list[tuple[date, date]] = field(default_factory=list)
    skipped: str | None = None  # why nothing is built (an input table that does not exist yet)
    # the model's prepared state (KpiModel.prepare) computed again for every period rewritten, not only
    # for what changed: a full build, or a rebuild from a day (a correction the watermarks cannot see)
    recompute: bool = False


def build_kpis(
    dsn: str,
    settings: KpiSettings,
    *,
    as_of: object | None = None,
    full: bool = False,
    from_day: date | None = None,
) -> dict[str, object]:
    """Build every KPI table as of `as_of` (default now); returns what each table rewrote.

    `full` rewrites every period of every table; `from_day` also rewrites every month from that day's
    month on (after a correction the watermarks cannot see, e.g. a changed agreement).

    A build as of a moment before the tables' latest one (a backfill run, an old run cleared, a past
    `as_of`, the review of a closed month) measures the periods before that moment's day and leaves the
    later ones as the latest build measured them: they are built again, in the same session, as of the
    tables' latest moment. Without it, a backfill of last month emptied the month in progress and moved
    the tables' "built as of" back. A rerun does the same again: it writes the same tables.
    """
    moment = as_utc(as_of)
    started = time.monotonic()
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK_KEY,))
        try:
            configure_session(conn)
            latest = periods.latest_moment(conn)
            tables, staging_seconds = _build(conn, settings, moment, full=full, from_day=from_day)
            kept_from = None
            if latest is not None and latest > moment:
                kept_from = moment.tz_convert(settings.timezone).date()
                _build(conn, settings, latest, full=False, from_day=kept_from)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK_KEY,))
    summary = {
        "as_of": moment.isoformat(),
        "seconds": round(time.monotonic() - started, 2),
        "staging_seconds": staging_seconds,
        "tables": tables,
    }
    if kept_from is not None:
        summary["later_periods"] = {"from": kept_from.isoformat(), "as_of": latest.isoformat()}
    rewritten = sum(t["periods"] for t in tables.values())
    rows = sum(t["rows"] for t in tables.values())
    touched = {name: t["periods"] for name, t in tables.items() if t["periods"]}
    tasklog.summary(
        f"KPIs as of {tasklog.moment(moment)}: {tasklog.count(rewritten, 'period range')} rewritten in "
        f"{tasklog.count(len(touched), 'table')} of {len(tables)} ({tasklog.count(rows, 'row')}) in "
        f"{tasklog.duration(summary['seconds'])}"
        + (f": {tasklog.listing(touched)}" if touched else "; nothing changed since the last build")
        + (
            f"; periods from {kept_from} on kept as of {tasklog.moment(latest)}, the tables' latest moment"
            if kept_from is not None
            else ""
        )
    )
    return summary


def _build(
    conn: psycopg.Connection,
    settings: KpiSettings,
    moment: pd.Timestamp,
    *,
    full: bool,
    from_day: date | None,
) -> tuple[dict[str, dict], float]:
    """One build as of `moment` in the session: (what each table rewrote, seconds spent staging)."""
    today = moment.tz_convert(settings.timezone).date()
    mark = periods.current_watermark(conn)
    finder = periods.ChangeFinder(conn, mark, settings.timezone, settings.mql_stage, moment.to_pydatetime())
    plans = plan_tables(conn, settings, finder, today, full=full, from_day=from_day)
    params = model_params(settings, moment)
    staged = time.monotonic()
    if any(p.ranges and p.model.staged for p in plans):
        staging.stage(
            conn,
            finder,
            {**params, **staging_window(plans, settings)},
            enrolled=any(p.ranges and p.model.staged == "enrolled" for p in plans),
            everything=full or from_day is not None,
        )
        load_goal_days(conn, settings, today)
    staging_seconds = round(time.monotonic() - staged, 2)
    return {p.model.name: write_table(conn, p, params, mark, moment) for p in plans}, staging_seconds


def configure_session(conn: psycopg.Connection) -> None:
    """The session settings every build runs with (bench/kpi.py times its baseline scan with them too)."""
    # Sorts and hashes over whole months of facts stay in memory (the 4MB default spills them).
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET jit = off")  # compiling costs more than it saves on these statements
    # The build ANALYZEs its session tables (staging, changes) once each: a sample of 3,000 rows instead of
    # 30,000 is enough for their plans (joins on lead ids, ranges of moments, a few dimension values) and
    # costs a fraction (ANALYZE of the staged leads was a tenth of a one-day refresh).
    conn.execute("SET default_statistics_target = 10")


def model_params(settings: KpiSettings, moment: pd.Timestamp) -> dict[str, object]:
    return {
        "tz": settings.timezone,
        "as_of": moment.to_pydatetime(),
        "mql_stage": settings.mql_stage,
        "sql_stages": list(settings.sql_stages),
        "horizon_days": settings.horizon_days,
        # the engagement model counts events, not logged changes (smarketing.kpi.engagement)
        "by_difference": False,
        "recounted": [],
    }


def plan_tables(
    conn: psycopg.Connection,
    settings: KpiSettings,
    finder: periods.ChangeFinder,
    today: date,
    *,
    full: bool,
    from_day: date | None,
) -> list[TablePlan]:
    """What each table rewrites: all of it, or the ranges of months touched since its watermark."""
    states = periods.table_states(conn)
    end = periods.next_month(today)
    plans = []
    for model in MODELS:
        state = states.get(model.name)
        if model.requires and not _exists(conn, model.requires):
            plans.append(TablePlan(model, "full", skipped=f"{model.requires} does not exist yet"))
        elif model.whole or full or state is None or (model.by_difference and not _tracking(conn)):
            # (a table kept by difference whose change log is off, e.g. built before it existed: counted whole)
            plans.append(TablePlan(model, "full", [(periods.BEGINNING, END_OF_TIME)], recompute=True))
            if model.prepare:
                _keep_credit_leads(conn, changed=False)
        elif model.daily and from_day is None:
            days = periods.touched_days(model, finder.changes(state.watermark, state.as_of).days)
            plans.append(TablePlan(model, "incremental", periods.day_ranges(days, end)))
        else:
            changes = finder.months(state.watermark, state.as_of, in_session=model.prepare is not None)
            if model.prepare:
                _keep_credit_leads(conn, changed=True)
            months = periods.touched_months(model, changes)
            if from_day is not None:
                months |= set(periods.months_between(from_day, end))
            if model.closes_with_time:
                previous = pd.Timestamp(state.as_of).tz_convert(settings.timezone).date()
                months |= periods.closed_since(previous, today, settings.horizon_days)
            plans.append(
                TablePlan(model, "incremental", periods.ranges(months, end), recompute=from_day is not None)
            )
    return plans


def _keep_credit_leads(conn: psycopg.Connection, *, changed: bool) -> None:
    """The leads whose deals are credited again (sql/kpi/attribution_credits.sql), kept apart from the next
    change finding of another watermark: those of the table's watermark (`changed`), or none."""
    conn.execute("DROP TABLE IF EXISTS _kpi_recredit_leads")
    if changed:
        conn.execute("ALTER TABLE _kpi_credit_leads RENAME TO _kpi_recredit_leads")
    else:
        conn.execute(
            "CREATE TEMP TABLE _kpi_recredit_leads (lead_id bigint PRIMARY KEY, since timestamptz NOT NULL)"
        )


def _tracking(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM ops.kpi_event_tracking)").fetchone()[0]


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def staging_window(plans: list[TablePlan], settings: KpiSettings) -> dict[str, object]:
    """Which leads and deals the build stages: all (`stage_all`), or those with a fact on or after
    `stage_from` (the first day a model read by period needs; velocity compares with the month before
    its first; goals read from their periods' start) and the deals opened or won from `deals_from` (the
    first month attribution rewrites), with their leads."""
    everything = {"stage_all": True, "stage_from": periods.BEGINNING, "deals_from": periods.BEGINNING}
    bounds, deal_bounds = [], []
    for plan in plans:
        if not plan.ranges or plan.model.staged in (None, "enrolled"):
            continue  # the ledger's leads are staged by id (smarketing.kpi.staging)
        if plan.model.staged == "goals":
            bounds += [goal.starts_on - GOAL_MARGIN for goal in settings.goals]
        elif plan.ranges[0][0] == periods.BEGINNING:
            return everything
        elif plan.model.staged == "deals":
            deal_bounds.append(plan.ranges[0][0])
        else:
            first = plan.ranges[0][0]
            if plan.model.next_month_too:  # velocity: the month before its first is its baseline
                first = periods.month_start(first - timedelta(days=1))
            # no margin: the window begins at the day's first instant (ops.kpi_day_start), the models' bound
            bounds.append(first)
    # nothing read by period: no lead but the ledger's and the deals'
    stage_from = min(bounds, default=END_OF_TIME)
    return {"stage_all": False, "stage_from": stage_from, "deals_from": min([stage_from, *deal_bounds])}


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        (table,),
    ).fetchall()
    return [name for (name,) in rows]


def write_table(
    conn: psycopg.Connection,
    plan: TablePlan,
    params: dict[str, object],
    mark: periods.Watermark,
    moment: pd.Timestamp,
) -> dict[str, object]:
    """Rewrite the plan's ranges of one table, one transaction each; the last one advances its watermark."""
    model = plan.model
    started = time.monotonic()
    columns = sql.SQL(", ").join(map(sql.Identifier, _columns(conn, model.table)))
    table = sql.Identifier("kpi", model.name)
    select = sql.SQL("SELECT {columns} FROM ({model}) AS m").format(
        columns=columns,
        model=sql.SQL(model.sql()),  # type: ignore[arg-type]  # project SQL
    )
    insert = Insert(
        sql.SQL("INSERT INTO {table} ({columns}) ").format(table=table, columns=columns), select, columns
    )
    params = {**params, "recompute": plan.recompute}
    if model.by_difference and not plan.skipped:
        return _write_by_difference(conn, plan, insert, params, mark, moment, started)
    rows = 0
    steps = plan.ranges or [None]
    for i, bounds in enumerate(steps):
        with conn.transaction():
            if i == 0 and plan.mode == "full" and model.keeps:
                kept = [sql.Identifier(*name.split(".")) for name in model.keeps]
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(kept)))
            if bounds is not None:
                rows += _rewrite(conn, model, table, insert, params, bounds)
            if i == len(steps) - 1:
                _save_state(conn, model, mark, moment, len(plan.ranges), plan.mode)
    return {
        "mode": plan.mode,
        "periods": len(plan.ranges),
        "ranges": [f"{lo}..{hi}" for lo, hi in plan.ranges if hi != END_OF_TIME]
        or (["all"] if plan.ranges else []),
        "rows": rows,
        "seconds": round(time.monotonic() - started, 2),
        **({"skipped": plan.skipped} if plan.skipped else {}),
    }


def _write_by_difference(
    conn: psycopg.Connection,
    plan: TablePlan,
    insert: Insert,
    params: dict[str, object],
    mark: periods.Watermark,
    moment: pd.Timestamp,
    started: float,
) -> dict[str, object]:
    """Count the plan's ranges and the months a change left again, add the other changes (one transaction,
    one snapshot: smarketing.kpi.engagement)."""
    model, full = plan.model, plan.mode == "full"
    if full:
        engagement.track_event_changes(conn)  # committed before the count's snapshot
    rows, added = 0, []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        left = engagement.take_event_changes(conn, params)
        ranges = plan.ranges
        if not full:
            end = periods.next_month(moment.tz_convert(str(params["tz"])).date())
            ranges = periods.ranges(
                {m for lo, hi in plan.ranges for m in periods.months_between(lo, hi)} | left, end
            )
        for bounds in ranges:
            rows += _rewrite(conn, model, sql.Identifier("kpi", model.name), insert, params, bounds)
        if not full:  # a full count holds every change taken
            recounted = [m for lo, hi in ranges for m in periods.months_between(lo, hi)]
            added = engagement.add_event_changes(conn, insert.columns, insert.select, params, recounted)
        _save_state(conn, model, mark, moment, len(ranges), plan.mode)
    return {
        "mode": plan.mode,
        "periods": len(ranges),
        "ranges": [f"{lo}..{hi}" for lo, hi in ranges if hi != END_OF_TIME] or (["all"] if ranges else []),
        "added": [str(m) for m in added],
        "rows": rows,
        "seconds": round(time.monotonic() - started, 2),
    }


def _rewrite(
    conn: psycopg.Connection,
    model: KpiModel,
    table: sql.Identifier,
    insert: Insert,
    params: dict[str, object],
    bounds: tuple[date, date],
) -> int:
    lo, hi = bounds
    if model.prepare is not None:
        with psycopg.ClientCursor(conn) as cur:
            cur.execute(read_sql(model.prepare), {**params, "lo": lo, "hi": hi})
    if model.period_column is None:
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
    else:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {col} >= %s AND {col} < %s").format(
                table, col=sql.Identifier(model.period_column)
            ),
            (lo, hi),
        )
    # client-side binding: the model's comments name its parameters too
    with psycopg.ClientCursor(conn) as cur:
        if model.staged is not None:
            cur.execute(insert.into + insert.select, {**params, "lo": lo, "hi": hi})
            return max(cur.rowcount, 0)
        # A model reading no session table may run in parallel, which INSERT ... SELECT never does (up to
        # PostgreSQL 17) but CREATE TABLE AS does: its rows go through a temporary table. These models
        # aggregate many rows into few groups, which the planner overestimates (a group per distinct event
        # time for a month computed from it), pricing the workers' partial groups as if they were millions:
        # passing a row to the leader is priced as processing one here.
        cur.execute("SET LOCAL parallel_tuple_cost = 0.01")
        cur.execute(
            sql.SQL("CREATE TEMP TABLE _kpi_rows AS ") + insert.select, {**params, "lo": lo, "hi": hi}
        )
        cur.execute(insert.into + sql.SQL("SELECT * FROM _kpi_rows"))
        rows = max(cur.rowcount, 0)
        cur.execute("DROP TABLE _kpi_rows")
        return rows


def _save_state(
    conn: psycopg.Connection,
    model: KpiModel,
    mark: periods.Watermark,
    moment: pd.Timestamp,
    n: int,
    mode: str,
) -> None:
    conn.execute(
        """
        INSERT INTO ops.kpi_state (table_name, watermark, as_of, periods, mode, built_at)
        VALUES (%s, %s, %s, %s, %s, now())
        ON CONFLICT (table_name) DO UPDATE
           SET watermark = EXCLUDED.watermark, as_of = EXCLUDED.as_of, periods = EXCLUDED.periods,
               mode = EXCLUDED.mode, built_at = EXCLUDED.built_at
        """,
        (model.name, psycopg.types.json.Jsonb(mark.to_json()), moment.to_pydatetime(), n, mode),
    )


def table_checksums(conn: psycopg.Connection) -> dict[str, str]:
    """md5 of every kpi table's rows in a fixed order: equal checksums, equal tables."""
    out = {}
    for model in MODELS:
        query = sql.SQL(
            "SELECT md5(COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
        ).format(sql.Identifier("kpi", model.name))
        out[model.name] = conn.execute(query).fetchone()[0]
    return out
