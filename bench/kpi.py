"""Benchmark of the KPI build against one sequential scan of its input tables, and of a one-day refresh.

    .venv/bin/python bench/kpi.py --leads 1000000 --events 20000000

Builds a throwaway warehouse (dropped at the end) holding `--leads` leads created over two years, their
funnel (three in ten become MQL, four in ten of those SQL, one in twelve leads opens a deal, three in ten
deals are won), `--events` marketing events spread over each lead's first three months, MQL crossings
and SLA clocks, written straight into core with SQL. Then times, in the same run:

* `scan_inputs`: one sequential scan of every table a full rebuild reads (each row read and deformed:
  `count(*) WHERE t IS NOT NULL`), in a session with the build's own settings (`configure_session`),
  the floor any rebuild has to pay;
* `full_rebuild`: `build_kpis(full=True)`, every period of every KPI table;
* `one_day_refresh`: after one day of new data (the day's share of events, stage entries and deals) and
  late data (events landing in a month closed three months ago) is landed in raw and folded into core
  (not timed), the incremental `build_kpis` that follows.

Each is the best of `--repeat` runs (the machine's other work adds noise, never speed). Budgets:
full_rebuild <= 3 x scan_inputs, one_day_refresh <= 10% of full_rebuild. Prints one JSON object.

Each run is also timed in CPU seconds, the server's (every backend of the bench database, parallel
workers included) plus this process's (bench/cpu_meter.py): on a shared machine the wall ratios move with
the load between the measurements, the CPU ratios (`cpu_ratio_*`, of the runs with the least CPU) much less.

`--keep-seed` seeds into a database named after the world's size (`bench_kpi_seed_<leads>_<events>`), keeps
it, and on later runs of the same size copies it (`CREATE DATABASE ... TEMPLATE`) instead of seeding again:
every run still starts from the same world, minutes sooner. Drop it by hand when done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import uuid

import pandas as pd
from cpu_meter import Meter, available, cpu_of, span
from psycopg import sql

from smarketing.config import load_config
from smarketing.kpi.build import build_kpis, configure_session
from smarketing.kpi.settings import settings_from_agreement
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import connect, drop_database, transaction, with_database
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import land_batch

END = pd.Timestamp("2026-11-30 00:00", tz="UTC")
INPUTS = (
    "core.leads",
    "core.companies",
    "core.owners",
    "core.lifecycle_history",
    "core.deals",
    "core.marketing_events",
    "scoring.mql_crossings",
    "sla.followups",
    "sla.breaches",
    "sla.marketing_delivery",
    "nurture.enrollments",
    "dq.batch_verdicts",
    "dq.validation_runs",
    "dq.expectation_results",
    "dq.quarantine",
)
EVENT_TYPES = (
    "ARRAY['email_sent','email_sent','email_open','email_click','page_view','page_view',"
    "'pricing_page_view','form_submission','content_download','webinar_registered','webinar_attended',"
    "'unsubscribe','bounce','ad_click','demo_request']"
)

SEED_SQL = """
INSERT INTO core.owners (owner_id, source_system, source_id, team)
SELECT 'crm:o' || i, 'crm', 'o' || i, (ARRAY['EMEA', 'DACH', 'Nordics', 'Iberia'])[1 + i % 4]
FROM generate_series(1, 60) AS i;

INSERT INTO core.companies (company_id, source_system, source_id, industry, country)
SELECT i, 'crm', 'c' || i, (ARRAY['Software', 'Retail', 'Manufacturing', 'Logistics', 'Financial Services'])[1 + i % 5],
       (ARRAY['FR', 'DE', 'GB', 'ES', 'IT'])[1 + i % 5]
FROM generate_series(1, 5000) AS i;

CREATE TEMP TABLE bench_leads AS
SELECT i AS lead_id, '{end}'::timestamptz - random() * interval '730 days' AS created_at FROM generate_series(1, {leads}) AS i;

INSERT INTO core.leads (lead_id, source_system, source_id, email_normalized, persona_id, country, company_id,
                        owner_id, created_at, attributes)
SELECT lead_id, 'crm', 'L' || lead_id, 'lead' || lead_id || '@bench.example',
       (ARRAY['it_leader', 'ops_manager', 'developer', 'finance', NULL])[1 + lead_id % 5],
       (ARRAY['FR', 'DE', 'GB', 'ES', 'IT'])[1 + lead_id % 5], 1 + lead_id % 5000, 'crm:o' || (1 + lead_id % 60),
       created_at, jsonb_build_object('utm_medium', (ARRAY['paid_search', 'email', 'social', 'organic', 'referral', 'events'])[1 + lead_id % 6])
FROM bench_leads;

INSERT INTO core.lead_sources (source_system, source_id, lead_id, batch_id, record)
SELECT 'crm', 'L' || lead_id, lead_id, 0, '{{}}' FROM bench_leads;

CREATE TEMP TABLE bench_mql AS
SELECT lead_id, least(created_at + -ln(1 - random()) * interval '5 days', '{end}'::timestamptz) AS mql_at
FROM bench_leads WHERE lead_id % 10 < 3;

INSERT INTO core.lifecycle_history (lead_id, stage, entered_at, source_system)
SELECT lead_id, 'marketingqualifiedlead', mql_at, 'crm' FROM bench_mql
UNION ALL
SELECT lead_id, 'salesqualifiedlead', least(mql_at + -ln(1 - random()) * interval '6 days', '{end}'), 'crm'
FROM bench_mql WHERE lead_id % 100 < 40;

INSERT INTO scoring.mql_crossings (lead_id, model_version, crossed_at, total, grade, profile_id, run_id, is_first)
SELECT lead_id, '2026.11', mql_at, 60 + (lead_id % 50), (ARRAY['A', 'B', 'C'])[1 + lead_id % 3], 'default', 'bench', true
FROM bench_mql WHERE lead_id % 2 = 0;

INSERT INTO core.deals (deal_id, lead_id, company_id, amount, stage, created_at, closed_at, is_won, source_system)
SELECT 'crm:d' || l.lead_id, l.lead_id, 1 + l.lead_id % 5000, 1000 + (l.lead_id % 50) * 500, 'x',
       least(l.created_at + interval '20 days', '{end}'),
       CASE WHEN l.lead_id % 10 < 3 THEN least(l.created_at + interval '50 days', '{end}') END,
       CASE WHEN l.lead_id % 10 < 3 THEN true END, 'crm'
FROM bench_leads l WHERE l.lead_id % 12 = 0;

INSERT INTO sla.followups (lead_id, mql_at, mql_source, owner_id, tier, allowed_minutes, due_at, status,
                           business_minutes_to_touch, routing_minutes, rep_minutes, accept_status, evaluated_at, input_hash,
                           updated_at)
SELECT lead_id, mql_at, 'crm', 'crm:o' || (1 + lead_id % 60), 'standard', 240, mql_at + interval '4 hours',
       (ARRAY['met', 'met', 'met', 'breached_late', 'breached_open', 'excluded'])[1 + lead_id % 6],
       60 + lead_id % 300, lead_id % 30, 60 + lead_id % 270, (ARRAY['met', 'breached_late', 'pending'])[1 + lead_id % 3],
       '{end}', lead_id, '{end}'  -- written by the SLA run of the world's last hour, not just now
FROM bench_mql;

INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, campaign_id, content_topic, source_system)
SELECT 'crm:e' || n, l.lead_id, ({event_types})[1 + (n * 7) % 15],
       least(l.created_at - interval '3 days' + random() * interval '93 days', '{end}'),
       'C' || (n % 300), (ARRAY['pricing', 'security', 'integration', 'roi'])[1 + n % 4], 'crm'
FROM generate_series(1, {events}) AS n
JOIN bench_leads l ON l.lead_id = 1 + (n - 1) % {leads};
"""


def seed(dsn: str, leads: int, events: int) -> None:
    with transaction(dsn) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute("SET LOCAL work_mem = '256MB'")
        # integers and a fixed timestamp only: plain formatting is safe, and lets one call run every statement
        conn.execute(
            SEED_SQL.format(
                end=END.isoformat(), leads=int(leads), events=int(events), event_types=EVENT_TYPES
            )
        )
    with connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _database_exists(server: str, name: str) -> bool:
    with connect(server) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def seeded_copy(server: str, name: str, leads: int, events: int) -> tuple[str, float]:
    """A fresh database holding the seeded world: a copy of the kept seed `name` (seeded first if missing)."""
    seed_dsn = with_database(server, name)
    seed_seconds = 0.0
    if not _database_exists(server, name):
        migrate.upgrade(seed_dsn)
        _, seed_seconds = _timed(seed, seed_dsn, leads, events)
    dsn = with_database(server, f"smk_bench_kpi_{uuid.uuid4().hex[:8]}")
    with connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dsn.rsplit("/", 1)[1]), sql.Identifier(name)
            )
        )
    migrate.upgrade(dsn)  # a seed kept from before a new migration (statistics are copied with the rest)
    return dsn, seed_seconds


def scan_inputs(dsn: str) -> float:
    started = time.perf_counter()
    with connect(dsn, autocommit=True) as conn:
        configure_session(conn)  # the build's own session settings: timed the same way
        for table in INPUTS:
            conn.execute(f"SELECT count(*) FROM {table} t WHERE t IS NOT NULL").fetchone()
    return time.perf_counter() - started


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"source_id": [r.pop("id") for r in rows], "payload": [json.dumps(r) for r in rows]})


def _recent_leads(dsn: str, since: pd.Timestamp, n: int) -> list[str]:
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT source_id FROM core.leads WHERE created_at >= %s ORDER BY lead_id LIMIT %s",
            (since.to_pydatetime(), n),
        ).fetchall()
    return [r[0] for r in rows]


def land_one_day(dsn: str, leads: int, events: int, day: int) -> dict[str, int]:
    """The day's share of new events, MQL entries and deals (on leads of the last three months, as the
    world's activity is; each day other leads, so a later day's MQL entries are not repeats that move
    nothing), plus late events of random leads in a month closed three months ago; folded into core
    (not timed)."""
    at = END + pd.Timedelta(days=day) - pd.Timedelta(hours=6)
    late = END - pd.Timedelta(days=90 + day)
    new_events = max(events // 730, 1)
    late_events = max(new_events // 20, 1)
    recent = _recent_leads(dsn, END - pd.Timedelta(days=90), max(new_events, 1))
    kinds = ["email_open", "page_view", "email_click", "form_submission"]
    rows = {
        "marketing_events": [
            {
                "id": f"d{day}e{i}",
                "event_type": kinds[i % 4],
                "campaign_id": f"C{i % 300}",
                **(
                    {"lead_source_id": f"L{1 + (i * 7919) % leads}", "occurred_at": late.isoformat()}
                    if i < late_events
                    else {"lead_source_id": recent[(i * 31) % len(recent)], "occurred_at": at.isoformat()}
                ),
            }
            for i in range(new_events + late_events)
        ],
        "lifecycle_history": [
            {
                "id": f"d{day}m{i}",
                "lead_source_id": recent[(i * 17 + 3 + day * 7919) % len(recent)],
                "stage": "marketingqualifiedlead",
                "entered_at": at.isoformat(),
            }
            for i in range(max(leads * 3 // 10 // 730, 1))
        ],
        "deals": [
            {
                "id": f"d{day}d{i}",
                "lead_source_id": recent[(i * 13 + 5 + day * 7919) % len(recent)],
                "amount": 5000,
                "created_at": at.isoformat(),
            }
            for i in range(max(leads // 12 // 730, 1))
        ],
    }
    with connect(dsn, autocommit=True) as conn:
        for obj, records in rows.items():
            land_batch(
                conn,
                source_system="crm",
                object=obj,
                origin=f"day {day}",
                rows=[_frame(records)],
                run_id="bench",
            )
    build_core(dsn, None)
    with connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE core.marketing_events, core.lifecycle_history, core.deals")
    return {obj: len(records) for obj, records in rows.items()}


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def _measured(fn, *args, **kwargs) -> tuple[object, float, float | None]:
    """The result, wall seconds and CPU seconds (server + client; None without a meter) of one call."""
    part: dict = {}
    with span(part):
        result = fn(*args, **kwargs)
    return result, part["seconds"], cpu_of(part)


def _least_cpu(runs: list[tuple[object, float, float | None]]) -> float | None:
    cpus = [r[2] for r in runs]
    return None if None in cpus else min(cpus)  # type: ignore[type-var]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="Best of this many runs of each measurement.")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--keep-seed",
        action="store_true",
        help="Keep the seeded world and copy it on later runs of the same size.",
    )
    args = parser.parse_args(argv)

    if args.keep_seed:
        name = f"bench_kpi_seed_{args.leads}_{args.events}"
        dsn, seed_seconds = seeded_copy(args.server, name, args.leads, args.events)
    else:
        dsn = with_database(args.server, f"smk_bench_kpi_{uuid.uuid4().hex[:8]}")
        migrate.upgrade(dsn)
    try:
        if not args.keep_seed:
            _, seed_seconds = _timed(seed, dsn, args.leads, args.events)
        settings = settings_from_agreement(load_config())
        with Meter(dsn) if available() else contextlib.nullcontext():
            scans = [_measured(scan_inputs, dsn) for _ in range(args.repeat)]
            fulls = [_measured(build_kpis, dsn, settings, as_of=END, full=True) for _ in range(args.repeat)]
            refreshes, landed = [], {}
            for day in range(1, args.repeat + 1):
                landed = land_one_day(dsn, args.leads, args.events, day)
                refreshes.append(_measured(build_kpis, dsn, settings, as_of=END + pd.Timedelta(days=day)))
    finally:
        drop_database(dsn)

    scan, full, refresh = min(s[1] for s in scans), min(f[1] for f in fulls), min(r[1] for r in refreshes)
    cpu = {
        "scan_inputs": _least_cpu(scans),
        "full_rebuild": _least_cpu(fulls),
        "one_day_refresh": _least_cpu(refreshes),
    }
    best_refresh = min(refreshes, key=lambda r: r[1])[0]
    result = {
        "benchmark": "kpi.build_kpis",
        "leads": args.leads,
        "events": args.events,
        "repeat": args.repeat,
        "seed_seconds": round(seed_seconds, 1),
        "scan_inputs_seconds": round(scan, 2),
        "full_rebuild_seconds": round(full, 2),
        "one_day_refresh_seconds": round(refresh, 2),
        "full_rebuild_tables_seconds": {
            k: v["seconds"] for k, v in min(fulls, key=lambda f: f[1])[0]["tables"].items()
        },
        "refresh_ranges": {k: v["ranges"] for k, v in best_refresh["tables"].items() if v["ranges"]},
        "refresh_tables_seconds": {k: v["seconds"] for k, v in best_refresh["tables"].items()},
        "refresh_staging_seconds": best_refresh.get("staging_seconds"),
        "full_staging_seconds": min(fulls, key=lambda f: f[1])[0].get("staging_seconds"),
        "one_day_landed": landed,
        "cpu_seconds": cpu,
        "all_cpu_seconds": {
            "scan_inputs": [s[2] for s in scans],
            "full_rebuild": [f[2] for f in fulls],
            "one_day_refresh": [r[2] for r in refreshes],
        },
        **(
            {
                "cpu_ratio_full_to_scan": round(cpu["full_rebuild"] / cpu["scan_inputs"], 2),
                "cpu_ratio_refresh_to_full": round(cpu["one_day_refresh"] / cpu["full_rebuild"], 3),
            }
            if None not in cpu.values()
            else {}
        ),
        "all_seconds": {
            "scan_inputs": [round(s[1], 2) for s in scans],
            "full_rebuild": [round(f[1], 2) for f in fulls],
            "one_day_refresh": [round(r[1], 2) for r in refreshes],
        },
        "ratio_full_to_scan": round(full / scan, 2),
        "ratio_refresh_to_full": round(refresh / full, 3),
        "full_within_budget": full <= 3 * scan,
        "refresh_within_budget": refresh <= 0.10 * full,
    }
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
