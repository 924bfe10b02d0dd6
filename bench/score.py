"""Benchmarks of lead scoring, each against a baseline measured in the same run. Prints one JSON object.

    .venv/bin/python bench/score.py --leads 1000000 --events 20000000 --small-events 2000000

Builds throwaway warehouses (dropped at the end unless `--keep`) with `--leads` leads, a tenth as many
companies, and `--events` marketing events over the year before the reference time (a mix like a real
marketing tool's: sends, opens, clicks, page views, forms, a few demo requests and unsubscribes;
activity skewed towards some leads), scored with the sample agreement (config/smarketing.yaml). Then:

* `full`: a full rescore end to end (read from PostgreSQL, score, write scores, contributions, state,
  history and crossings) in a child process, with its peak memory (max RSS);
* `io_floor`: COPY out of the same inputs the scorer reads (binary: its events — the same rows, of the
  model's event types up to the reference time, and the same three 8-byte columns, the mask a constant —
  and the lead fields) and of the same result rows into tables shaped like the real ones; the budget is
  `full <= 2 x io_floor`, by wall time (`full_over_io_floor`) and by CPU seconds, server + client
  (`full_over_io_floor_cpu`, the budget's figure on a shared machine: bench/cpu_meter.py; the child's
  CPU counts its run, not its interpreter's start). With `--reuse DSN --first-load` every scoring output
  is emptied first, so the full rescore is a first load's (no previous score, snapshot or state);
* `kernel`: the scoring kernel on in-memory arrays (fit, engagement, totals) against DuckDB computing the
  same scores from the same arrays (window function for the per-day limits), results compared;
* `incremental`: a night with `--new-events` new events (1% of them late, before the previous run) after
  a full run, on the `--events` history and on a `--small-events` history with the same leads; the
  budgets are `night(big) <= 1.2 x night(small)` with a tenth of the history (`night_big_over_small`
  by wall time; `night_big_over_small_cpu` by CPU seconds, the child's plus its database backends',
  which the load of a shared machine moves much less — bench/cpu_meter.py),
  and, with `--new-events` 1% of `--events`, the night writing at most 5% of the rows the full rescore
  wrote (`night_rows_over_full`; rows per output under `rows_written`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from cpu_meter import Meter, available, span
from psycopg import sql

from smarketing.warehouse import migrate
from smarketing.warehouse.connection import connect, drop_database, redact_dsn, with_database

END = datetime(2026, 11, 16, 2, tzinfo=UTC)
SERVER = os.environ.get("SMARKETING_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CHUNK = 2_000_000

SEED_LEADS = """
INSERT INTO core.companies (company_id, source_system, source_id, name, domain, industry, employees, country)
SELECT g, 'bench', 'c' || g, 'Company ' || g, 'c' || g || '.example',
       (ARRAY['Software', 'Retail', 'Manufacturing', 'Logistics', 'Financial Services', 'Education'])[1 + g %% 6],
       (5 + (g * 7919) %% 6000), (ARRAY['FR', 'DE', 'US', 'GB', 'ES'])[1 + g %% 5]
FROM generate_series(1, %(companies)s) g
"""
SEED_LEADS_2 = """
INSERT INTO core.leads (lead_id, source_system, source_id, email_domain, job_title, persona_id, country,
                        company_id, created_at)
SELECT g, 'bench', 'l' || g,
       (ARRAY['gmail.com', 'corp.example', 'yahoo.fr', 'acme.example', 'outlook.com', 'leadforge.io'])[1 + g %% 6],
       CASE WHEN g %% 7 = 0 THEN NULL
            ELSE (ARRAY['CTO', 'Developer', 'Head of Operations', 'CFO', 'Student', 'Marketing Manager'])[1 + g %% 6] END,
       (ARRAY['it_leader', 'developer', 'ops_manager', 'finance', 'student', NULL])[1 + g %% 6],
       (ARRAY['FR', 'DE', 'US', 'GB', 'ES', 'IT'])[1 + (g / 7) %% 6],
       1 + g %% %(companies)s, %(end)s::timestamptz - interval '400 days'
FROM generate_series(1, %(leads)s) g
"""

SEED_EVENTS = """
INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, campaign_id, content_topic, source_system)
SELECT %(prefix)s || g, 1 + floor(power(random(), 1.5) * %(leads)s)::bigint,
       CASE WHEN r < 0.30 THEN 'email_sent' WHEN r < 0.55 THEN 'email_open' WHEN r < 0.63 THEN 'email_click'
            WHEN r < 0.83 THEN 'page_view' WHEN r < 0.87 THEN 'pricing_page_view'
            WHEN r < 0.90 THEN 'content_download' WHEN r < 0.93 THEN 'form_submission'
            WHEN r < 0.95 THEN 'webinar_registered' WHEN r < 0.96 THEN 'webinar_attended'
            WHEN r < 0.97 THEN 'chat_started' WHEN r < 0.98 THEN 'bounce' WHEN r < 0.985 THEN 'unsubscribe'
            WHEN r < 0.99 THEN 'demo_request' ELSE 'ad_click' END,
       %(start)s::timestamptz + random() * %(span)s::interval,
       'cmp' || (g %% 60), (ARRAY['pricing', 'integration', 'security', 'product', 'careers'])[1 + g %% 5], 'bench'
FROM (SELECT g, random() AS r FROM generate_series(%(a)s::int8, %(b)s::int8) g) s;
"""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def add_events(
    dsn: str, count: int, *, leads: int, start: datetime, span: timedelta, prefix: str, bulk: bool = False
) -> None:
    """Insert synthetic events; `bulk` (history set-up only) skips foreign-key and change-log triggers."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        if bulk:
            conn.execute("SET session_replication_role = replica")
        conn.execute("SELECT setseed(0.42)")
        for a in range(1, count + 1, CHUNK):
            b = min(a + CHUNK - 1, count)
            conn.execute(
                SEED_EVENTS,
                {"prefix": prefix, "leads": leads, "start": start, "span": span, "a": a, "b": b},
            )


def build(leads: int, events: int) -> str:
    dsn = with_database(SERVER, f"smk_bench_score_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        params = {"companies": max(1, leads // 10), "leads": leads, "end": END}
        conn.execute(SEED_LEADS, params)
        conn.execute(SEED_LEADS_2, params)
    add_events(
        dsn, events, leads=leads, start=END - timedelta(days=365), span=timedelta(days=365), prefix="h"
    )
    with connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE core.leads, core.companies, core.marketing_events")
    return dsn


# What scoring runs write: emptied, a kept warehouse is a first load again (`--first-load`).
SCORING_OUTPUTS = (
    "score_rows",
    "score_clock",
    "profile_scores",
    "fit_contributions",
    "rule_state",
    "score_history",
    "mql_crossings",
    "account_scores",
    "event_changes",
    "runs",
)


def reset(dsn: str, *, first_load: bool = False) -> None:
    """A kept warehouse as `build` left it (migrated to the latest schema): without the events and MQL
    crossings a night added, scoring tables compacted, vacuumed; with `first_load`, also without any score
    (every scoring output emptied, the MQL stages scoring added to core.lifecycle_history removed), as
    before its first scoring run."""
    migrate.upgrade(dsn)
    with connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM core.marketing_events WHERE event_id LIKE 'n%' OR event_id LIKE 'late%'")
        conn.execute("TRUNCATE scoring.event_changes")
        # The MQLs a night found: kept, the next night on this warehouse found fewer new ones (the full
        # rescore as of END never moves a crossing later), so nights on one warehouse were not alike.
        conn.execute("DELETE FROM scoring.mql_crossings WHERE crossed_at > %s", (END,))
        conn.execute(
            "DELETE FROM core.lifecycle_history WHERE source_system = 'scoring' AND entered_at > %s", (END,)
        )
    if first_load:
        empty_scores(dsn)
    with connect(dsn, autocommit=True) as conn:
        # Each full rescore rewrites every score, state cell and snapshot: without compaction a kept
        # warehouse carried every earlier run's dead rows (the full rescore's CPU went 9.5 s -> 14.9 s ->
        # 20.5 s over three runs at 200k leads; 18.1 s and 15.4 s in the two runs after this).
        for table in ("rule_state", "score_history", "fit_contributions", "score_rows", "profile_scores"):
            conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier("scoring", table)))
        conn.execute("VACUUM ANALYZE")


def empty_scores(dsn: str) -> None:
    """Every scoring output emptied and the MQL stages scoring added to core.lifecycle_history removed:
    the warehouse as before its first scoring run (bench/e2e.py's `--score-again` too)."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier("scoring", t) for t in SCORING_OUTPUTS)
            )
        )
        conn.execute("DELETE FROM core.lifecycle_history WHERE source_system = 'scoring'")
        conn.execute("VACUUM ANALYZE core.lifecycle_history")


# ---------------------------------------------------------------------------------------------
# Phases run in a child process (peak memory is per process)
# ---------------------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a
    child would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child(args: argparse.Namespace) -> dict:
    from smarketing.scoring.model import load_model
    from smarketing.scoring.runner import run_scoring

    as_of = datetime.fromisoformat(args.as_of)
    started = resource.getrusage(resource.RUSAGE_SELF)
    seconds, result = timed(
        run_scoring,
        args.dsn,
        load_model(),
        run_id=args.run_id,
        as_of=as_of,
        full=args.full,
        shard_count=args.shards,
    )
    ended = resource.getrusage(resource.RUSAGE_SELF)
    shards = result["shards"]
    return {
        "seconds": round(seconds, 2),
        # The run's own CPU: the interpreter's start and imports stay out, as they stay out of the floor.
        "run_cpu_s": round(ended.ru_utime + ended.ru_stime - started.ru_utime - started.ru_stime, 3),
        "mode": result["mode"],
        "peak_rss_mib": peak_rss_mib(),
        "leads": result["leads"],
        "events_read": sum(s["history_events"] + s["new_events"] for s in shards),
        "changed_days": sum(s["changed_days"] for s in shards),
        "seconds_by_step": {
            step: round(sum(s["seconds"].get(step, 0) for s in shards), 2)
            for step in sorted({k for s in shards for k in s["seconds"]})
        },
        "rows_written": rows_written(shards),
    }


def rows_written(shards: list[dict]) -> dict[str, int]:
    """Rows a run wrote per output (scores, fit contributions, engine state, history, new MQLs) and in all."""
    rows = {
        "scores": sum(s["score_rows"] for s in shards),
        "contributions": sum(s["contributions"] for s in shards),
        "state": sum(s["state_written"] for s in shards),
        "history": sum(s["history_rows"] for s in shards),
        "new_mqls": sum(s["new_mqls"] for s in shards),
    }
    rows["total"] = sum(rows.values())
    return rows


def run_child(dsn: str, *, as_of: datetime, full: bool, shards: int, run_id: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--dsn",
        dsn,
        "--as-of",
        as_of.isoformat(),
        "--shards",
        str(shards),
        "--run-id",
        run_id,
    ]
    if full:
        command.append("--full")
    with Meter(dsn) if available() else contextlib.nullcontext() as meter:
        server = meter.server() if meter else None
        children = _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        child_cpu = _children_cpu() - children
        server_cpu = meter.server() if meter else None
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout)
    # CPU seconds of the run: the child's own and its database backends' (bench/cpu_meter.py). On this
    # shared machine the wall time of a night swings with the load; the CPU it spends barely does.
    # `cpu_s` counts the child's run only (`run_cpu_s`, as bench/e2e.py leaves a stage's start-up out);
    # `child_cpu_s` is the whole child process, its interpreter's start and imports included.
    result["child_cpu_s"] = round(child_cpu, 3)
    result["server_cpu_s"] = None if server is None or server_cpu is None else round(server_cpu - server, 3)
    result["cpu_s"] = (
        None if result["server_cpu_s"] is None else round(result["run_cpu_s"] + result["server_cpu_s"], 3)
    )
    return result


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the scoring child)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# I/O floor
# ---------------------------------------------------------------------------------------------
# What a full rescore writes (scoring.contributions and scoring.lead_scores are views over what is stored).
OUTPUTS = ("score_rows", "fit_contributions", "rule_state", "score_history", "mql_crossings")


def copy_out(conn: psycopg.Connection, query: sql.Composable) -> bytes:
    """The fastest read there is of the rows: binary COPY through the scorer's own stream reader."""
    from smarketing.warehouse.copy import copy_out_bytes

    return bytes(copy_out_bytes(conn, sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query), None))


def io_floor(dsn: str, as_of: datetime = END) -> dict:
    from smarketing.scoring.events import predicate_event_types
    from smarketing.scoring.model import load_model
    from smarketing.scoring.warehouse import field_expression

    model = load_model()
    fields = sql.SQL(", ").join(field_expression(f) for f in model.fit_fields())
    parts: dict[str, dict] = {"events_out": {}, "leads_out": {}, "results_in": {}}  # cpu_meter.span
    with connect(dsn) as conn:
        # The rows and columns the scorer reads (read_history): its event types up to the reference time,
        # three 8-byte columns. The predicate mask is a constant here, so the floor holds no filter work.
        with span(parts["events_out"]):
            events = copy_out(
                conn,
                sql.SQL(
                    "SELECT lead_id, occurred_at, 0::int8 AS mask FROM core.marketing_events "
                    "WHERE event_type = ANY({types}) AND occurred_at <= {as_of}"
                ).format(
                    types=sql.Literal(predicate_event_types(model.predicates)), as_of=sql.Literal(as_of)
                ),
            )
        with span(parts["leads_out"]):
            copy_out(
                conn,
                sql.SQL(
                    "SELECT l.lead_id, {} FROM core.leads l LEFT JOIN core.companies c USING (company_id)"
                ).format(fields),
            )
        payloads = {
            t: copy_out(conn, sql.SQL("SELECT * FROM scoring.{}").format(sql.Identifier(t))) for t in OUTPUTS
        }
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench_floor")
        for table in OUTPUTS:
            conn.execute(
                sql.SQL("CREATE TABLE bench_floor.{0} (LIKE scoring.{0} INCLUDING ALL)").format(
                    sql.Identifier(table)
                )
            )
        conn.commit()
        with span(parts["results_in"]):
            for table, payload in payloads.items():
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        sql.SQL("COPY bench_floor.{} FROM STDIN (FORMAT binary)").format(
                            sql.Identifier(table)
                        )
                    ) as copy,
                ):
                    copy.write(payload)
            conn.commit()
        conn.execute("DROP SCHEMA bench_floor CASCADE")
        conn.commit()
    timings: dict = {k: round(p["seconds"], 2) for k, p in parts.items()}
    timings["total"] = round(sum(timings.values()), 2)
    timings["timed"] = parts
    timings["event_bytes"] = len(events)
    timings["event_rows"] = (len(events) - 21) // 38  # binary COPY: 19-byte header, 2-byte trailer
    return timings


def metered_floor(dsn: str) -> dict:
    """`io_floor` with its CPU seconds (server + client, `cpu_s`) when backends' CPU can be read."""
    if not available():
        return io_floor(dsn)
    with Meter(dsn):
        timings = io_floor(dsn)
    parts = timings["timed"].values()
    if all(p.get("server_cpu_s") is not None for p in parts):
        timings["cpu_s"] = round(sum(p["server_cpu_s"] + p["client_cpu_s"] for p in parts), 3)
    return timings


# ---------------------------------------------------------------------------------------------
# Kernel against DuckDB
# ---------------------------------------------------------------------------------------------
def _duck_fit(model) -> str:
    from smarketing.scoring.model import DEFAULT_PROFILE

    def quote(v: object) -> str:
        return "'" + str(v).replace("'", "''") + "'"

    terms = []
    for rule in model.profile(DEFAULT_PROFILE).fit_rules:
        col = f'"{rule.field}"'
        text = f"lower(trim({col}))"
        number = f"TRY_CAST({col} AS DOUBLE)"
        if rule.operator == "equals":
            cond = (
                f"{number} = {rule.operand}"
                if isinstance(rule.operand, (int, float))
                else f"{text} = {quote(str(rule.operand).lower())}"
            )
        elif rule.operator == "in":
            cond = f"{text} IN ({', '.join(quote(str(v).lower()) for v in rule.operand)})"
        elif rule.operator == "in_list":
            cond = f"{text} IN ({', '.join(quote(v) for v in sorted(model.lists[rule.operand]))})"
        elif rule.operator == "regex":
            cond = f"regexp_matches({col}, {quote(rule.operand)})"
        elif rule.operator == "between":
            cond = f"{number} BETWEEN {rule.operand[0]} AND {rule.operand[1]}"
        else:
            blank = f"({col} IS NULL OR trim({col}) = '')"
            cond = blank if rule.operand else f"NOT {blank}"
        terms.append(f"CASE WHEN coalesce({cond}, false) THEN {rule.points} ELSE 0 END")
    return " + ".join(terms) or "0"


def duckdb_scores(model, leads, events, as_of: int):
    import duckdb
    import pyarrow as pa

    from smarketing.scoring.kernel import US_PER_DAY
    from smarketing.scoring.model import DEFAULT_PROFILE

    engagement = model.profile(DEFAULT_PROFILE).engagement
    rules = pa.table(
        {
            "rule_no": list(range(len(engagement.rules))),
            "bit": [1 << r.predicate for r in engagement.rules],
            "points": [r.points for r in engagement.rules],
            "cap": [r.cap for r in engagement.rules],
            "max_per_day": [r.max_per_day for r in engagement.rules],
        }
    )
    ev = pa.table({"lead": events.lead, "t": events.t, "mask": events.mask})
    people = pa.Table.from_pandas(leads.assign(idx=np.arange(len(leads))), preserve_index=False)
    half = engagement.half_life_days * US_PER_DAY if engagement.half_life_days else None
    weight = f"pow(2.0, (t - {as_of})::DOUBLE / {half})" if half else "1.0"
    window = f"AND t >= {as_of - engagement.window_days * US_PER_DAY}" if engagement.window_days else ""
    floor = engagement.floor if engagement.floor is not None else -1e18
    query = f"""
        WITH matched AS (
            SELECT e.lead, e.t, r.rule_no, r.points, r.cap, r.max_per_day, e.t // {US_PER_DAY} AS day
            FROM ev e JOIN rules r ON (e.mask & r.bit) <> 0
            WHERE e.t <= {as_of}
        ),
        ranked AS (
            SELECT *, CASE WHEN max_per_day IS NULL THEN 1
                           ELSE row_number() OVER (PARTITION BY lead, rule_no, day ORDER BY t) END AS rn
            FROM matched
        ),
        summed AS (
            SELECT lead, rule_no, any_value(points) AS points, any_value(cap) AS cap,
                   sum(points * {weight}) AS v
            FROM ranked WHERE (max_per_day IS NULL OR rn <= max_per_day) {window}
            GROUP BY lead, rule_no
        ),
        capped AS (
            -- The engagement sum rounded once (the definition), the rules added in rule order as the
            -- kernel and PostgreSQL add them; what is left of cancelled additions is zero (kernel.ZERO).
            SELECT lead, sum(CASE WHEN abs(c) < 1e-9 THEN 0 ELSE c END ORDER BY rule_no) AS engagement
            FROM (SELECT lead, rule_no, CASE WHEN cap IS NULL THEN v WHEN points >= 0 THEN least(v, cap)
                                             ELSE greatest(v, -cap) END AS c FROM summed)
            GROUP BY lead
        )
        SELECT p.idx, ({_duck_fit(model)}) AS fit,
               greatest(round(coalesce(c.engagement, 0), 2), {floor}) AS engagement
        FROM people p LEFT JOIN capped c ON c.lead = p.idx
        ORDER BY p.idx
    """
    con = duckdb.connect()
    con.register("ev", ev)
    con.register("rules", rules)
    con.register("people", people)
    start = time.perf_counter()
    result = con.execute(query).fetchnumpy()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, result


def kernel_vs_duckdb(dsn: str) -> dict:
    from smarketing.scoring.kernel import assemble, evaluate_fit, full_values
    from smarketing.scoring.model import load_model
    from smarketing.scoring.runner import MAX_ID, MIN_ID
    from smarketing.scoring.warehouse import Shard, read_history, read_leads, to_us

    model = load_model()
    as_of = to_us(END)
    shard = Shard(0, MIN_ID, MAX_ID)
    with connect(dsn) as conn:
        leads = read_leads(conn, model, shard, as_of)
        events = read_history(conn, model, shard, leads["lead_id"].to_numpy(np.int64), as_of)

    def kernel():
        scores = assemble(
            model,
            leads["lead_id"].to_numpy(),
            evaluate_fit(model, leads),
            full_values(model, events, len(leads), as_of),
        )
        return scores.profiles["default"]

    runs = [timed(kernel) for _ in range(2)]
    kernel_seconds, ours = min(runs, key=lambda r: r[0])
    duck_runs = [duckdb_scores(model, leads, events, as_of) for _ in range(2)]
    duck_seconds, theirs = min(duck_runs, key=lambda r: r[0])
    engagement_diff = np.abs(ours.engagement - theirs["engagement"].astype(float))
    return {
        "events": len(events),
        "leads": len(leads),
        "kernel_seconds": round(kernel_seconds, 2),
        "duckdb_seconds": round(duck_seconds, 2),
        "duckdb_threads": os.cpu_count(),
        "same_fit": bool(np.array_equal(ours.fit, theirs["fit"].astype(np.int64))),
        "engagement_max_abs_diff": round(float(engagement_diff.max()), 4),
        "engagement_leads_differing_by_more_than_a_cent": int((engagement_diff > 0.0101).sum()),
    }


# ---------------------------------------------------------------------------------------------
# Incremental night
# ---------------------------------------------------------------------------------------------
def night(dsn: str, *, leads: int, new_events: int, shards: int) -> dict:
    late = new_events // 100
    insert_seconds, _ = timed(
        add_events, dsn, new_events - late, leads=leads, start=END, span=timedelta(days=1), prefix="n"
    )
    add_events(dsn, late, leads=leads, start=END - timedelta(days=3), span=timedelta(days=3), prefix="late")
    with connect(dsn, autocommit=True) as conn:
        logged = conn.execute("SELECT count(*) FROM scoring.event_changes").fetchone()[0]
        conn.execute("ANALYZE core.marketing_events")
    result = run_child(dsn, as_of=END + timedelta(days=1), full=False, shards=shards, run_id="bench-night")
    result["late_events_logged"] = logged
    result["new_events"] = new_events
    result["insert_seconds"] = round(insert_seconds, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument(
        "--small-events", type=int, default=None, help="History of the small incremental case."
    )
    parser.add_argument("--new-events", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--skip", action="append", default=[], help="full, floor, kernel, incremental")
    parser.add_argument("--keep", action="store_true", help="Keep the warehouses (prints their DSNs).")
    parser.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="DSN",
        help="Warehouses kept by an earlier --keep run (big, then small): measured again without the"
        " 15-minute build. Their night events are removed and the full rescore redone first.",
    )
    parser.add_argument(
        "--first-load",
        action="store_true",
        help="With --reuse: empty every scoring output first, so the full rescore is a first load's.",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    out: dict = {"leads": args.leads, "events": args.events, "shards": args.shards, "cpus": os.cpu_count()}
    dsns = []
    try:
        if args.reuse:
            dsn = args.reuse[0]
            log(f"reusing {redact_dsn(dsn)}")
            reset(dsn, first_load=args.first_load)
        else:
            log(f"building {args.leads} leads / {args.events} events")
            seconds, dsn = timed(build, args.leads, args.events)
            out["generate_seconds"] = round(seconds, 1)
        dsns.append(dsn)
        if "full" not in args.skip:
            log("full rescore")
            out["full"] = run_child(dsn, as_of=END, full=True, shards=args.shards, run_id="bench-full")
        if "floor" not in args.skip:
            log("I/O floor")
            out["io_floor"] = metered_floor(dsn)
            if "full" in out:
                out["full_over_io_floor"] = round(out["full"]["seconds"] / out["io_floor"]["total"], 2)
                cpu, floor_cpu = out["full"]["cpu_s"], out["io_floor"].get("cpu_s")
                if cpu is not None and floor_cpu:
                    # The budget's figure on a shared machine: CPU, server + client (bench/cpu_meter.py).
                    out["full_over_io_floor_cpu"] = round(cpu / floor_cpu, 2)
        if "kernel" not in args.skip:
            log("kernel vs DuckDB")
            out["kernel"] = kernel_vs_duckdb(dsn)
        if "incremental" not in args.skip:
            if "full" not in out:
                run_child(dsn, as_of=END, full=True, shards=args.shards, run_id="bench-full")
            log("incremental night on the big history")
            big = night(dsn, leads=args.leads, new_events=args.new_events, shards=args.shards)
            out["incremental"] = {"history_events": args.events, **big}
            if "full" in out:
                # Budget: a night with 1% new events writes at most 5% of the rows a full rescore writes.
                out["night_rows_over_full"] = round(
                    big["rows_written"]["total"] / out["full"]["rows_written"]["total"], 4
                )
            if args.small_events:
                if len(args.reuse) > 1:
                    small_dsn = args.reuse[1]
                    reset(small_dsn)
                else:
                    log(f"building the small history ({args.small_events} events)")
                    small_dsn = build(args.leads, args.small_events)
                dsns.append(small_dsn)
                run_child(small_dsn, as_of=END, full=True, shards=args.shards, run_id="bench-full")
                log("incremental night on the small history")
                small = night(small_dsn, leads=args.leads, new_events=args.new_events, shards=args.shards)
                out["incremental_small"] = {"history_events": args.small_events, **small}
                out["night_big_over_small"] = round(big["seconds"] / small["seconds"], 2)
                if big["cpu_s"] is not None and small["cpu_s"]:
                    out["night_big_over_small_cpu"] = round(big["cpu_s"] / small["cpu_s"], 2)
    finally:
        if args.keep or args.reuse:
            out["dsns"] = dsns
        else:
            for dsn in dsns:
                drop_database(dsn)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
