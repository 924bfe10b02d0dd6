"""Benchmark of the SLA evaluation against its own reads from PostgreSQL.

    .venv/bin/python bench/sla.py --mqls 200000 --activities 2000000

Builds a throwaway warehouse (dropped at the end) holding `--mqls` open MQLs and `--activities` sales
activities, then times, in the same run and the same warehouse state:

* `read`: the evaluation's own reads alone — `store.read_inputs`, the window of clocks that may change
  and one row of inputs per clock (first qualifying touch, decisions, scores), copied out into pandas —
  in a transaction with the evaluation's settings, rolled back. This is the baseline: the evaluation
  cannot do less than read what it reads, so the budget measures what it adds (computing and writing);
* `evaluate_first`: the whole `evaluate_followups` (read inputs, business-calendar arithmetic, COPY in,
  breaches) on an empty `sla.*`: every clock is new;
* `evaluate_hourly`: the same clocks read an hour later (the steady hourly case), with the time split
  by phase, against the reads of that hour.

Reads and evaluations alternate, each pair in the same state, and each figure is the best of
`--repeat` runs (the machine's other work adds noise, never speed).

The data looks like a sales floor that mostly keeps its promises: each MQL's first activity follows the
hand-over by a few hours, the others are spread over a month; seven in ten MQLs get a decision.
The budget is `evaluate <= 2 x read`, reported for both cases. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import replace

import pandas as pd

from smarketing.config import load_config
from smarketing.sla import store
from smarketing.sla.run import evaluate_followups
from smarketing.sla.settings import settings_from_agreement
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import connect, drop_database, transaction, with_database

AS_OF = pd.Timestamp("2026-11-23 15:00", tz="UTC")

SEED_SQL = """
INSERT INTO core.owners (owner_id, source_system, source_id, manager_id, timezone)
SELECT 'crm:' || i, 'crm', i::text, 'crm:' || (1 + i % 5),
       CASE WHEN i % 10 = 0 THEN 'America/New_York' WHEN i % 10 = 1 THEN 'Europe/London' END
FROM generate_series(1, 60) AS i;

-- MQLs spread over the week before the evaluation moment, all inside the re-evaluation window.
CREATE TEMP TABLE bench_mql AS
SELECT i AS lead_id,
       '{as_of}'::timestamptz - (random() * interval '7 days') AS mql_at
FROM generate_series(1, {mqls}) AS i;

INSERT INTO core.leads (lead_id, source_system, source_id, owner_id, owner_assigned_at, persona_id,
                        country, unsubscribed_at)
SELECT lead_id, 'crm', lead_id::text,
       CASE WHEN lead_id % 50 = 0 THEN NULL ELSE 'crm:' || (1 + lead_id % 60) END,
       CASE WHEN lead_id % 3 = 0 THEN mql_at + random() * interval '3 hours' END,
       (ARRAY['it_leader', 'ops_manager', 'developer', 'finance', NULL])[1 + lead_id % 5],
       (ARRAY['FR', 'DE', 'GB', 'ES'])[1 + lead_id % 4],
       CASE WHEN lead_id % 97 = 0 THEN mql_at + random() * interval '2 days' END
FROM bench_mql;

INSERT INTO core.lifecycle_history (lead_id, stage, entered_at, source_system)
SELECT lead_id, 'marketingqualifiedlead', mql_at, 'crm' FROM bench_mql
UNION ALL
-- Seven in ten hand-overs get a decision, most of them within a day or two.
SELECT lead_id, (ARRAY['salesqualifiedlead', 'nurturing', 'disqualified'])[1 + lead_id % 3],
       mql_at + -ln(1 - random()) * interval '20 hours', 'crm'
FROM bench_mql WHERE lead_id % 10 < 7;

-- Activities per lead: the first follows the hand-over by a few hours (an exponential delay), the others
-- are spread from two days before it to four weeks after; notes and tasks never count as touches.
INSERT INTO core.sales_activities (activity_id, lead_id, owner_id, activity_type, occurred_at, source_system)
SELECT 'crm:' || n, m.lead_id, 'crm:' || (1 + m.lead_id % 60),
       (ARRAY['call', 'email', 'meeting', 'linkedin', 'note', 'task', 'sms'])[1 + (n * 3 + m.lead_id) % 7],
       CASE WHEN n <= {mqls} THEN m.mql_at + -ln(1 - random()) * interval '3 hours'
            ELSE m.mql_at + (random() * 30 - 2) * interval '1 day' END,
       'crm'
FROM generate_series(1, {activities}) AS n
JOIN bench_mql m ON m.lead_id = 1 + (n - 1) % {mqls};
"""


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def read_inputs(dsn: str, settings, as_of: pd.Timestamp) -> tuple[int, float]:
    """The evaluation's reads alone (same session settings), rolled back: (clocks read, seconds)."""
    started = time.perf_counter()
    with connect(dsn) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        inputs = store.read_inputs(conn, settings, as_of)
    return inputs.window, time.perf_counter() - started


def _reset_sla(dsn: str) -> None:
    with connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE sla.followups, sla.breaches, sla.alerts CASCADE")
        conn.execute("VACUUM ANALYZE sla.followups, sla.breaches")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqls", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many runs of each measurement.")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)

    dsn = with_database(args.server, f"smk_bench_sla_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    try:
        with transaction(dsn) as conn:
            conn.execute("SELECT setseed(0.7)")
            # Integers and a fixed timestamp only: plain formatting is safe, and lets one call run every statement.
            conn.execute(
                SEED_SQL.format(as_of=AS_OF.isoformat(), mqls=int(args.mqls), activities=int(args.activities))
            )
        with connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        settings = settings_from_agreement(load_config())
        settings = replace(settings, alerts=replace(settings.alerts, team_to=None, marketing_to=None))

        # First evaluation (every clock new), from an empty sla.* each time, its reads timed just before.
        firsts = []
        for _ in range(args.repeat):
            _reset_sla(dsn)
            clocks, read_seconds = read_inputs(dsn, settings, AS_OF)
            split: dict[str, float] = {}
            summary, seconds = _timed(evaluate_followups, dsn, settings, AS_OF, timings=split)
            firsts.append((seconds, split, summary, read_seconds, clocks))
        # An hour passes before the next run: autovacuum has analysed what the first evaluation wrote.
        with connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE sla.followups, sla.breaches")
        # The steady hourly case: the same clocks read an hour later, and the hour after.
        steadies = []
        for hour in range(1, args.repeat + 1):
            moment = AS_OF + pd.Timedelta(hours=hour)
            clocks, read_seconds = read_inputs(dsn, settings, moment)
            split = {}
            summary, seconds = _timed(evaluate_followups, dsn, settings, moment, timings=split)
            steadies.append((seconds, split, summary, read_seconds, clocks))
    finally:
        drop_database(dsn)

    first = min(firsts, key=lambda r: r[0])
    steady = min(steadies, key=lambda r: r[0])
    read_first = min(r[3] for r in firsts)
    read_hourly = min(r[3] for r in steadies)
    result = {
        "benchmark": "sla.evaluate_followups",
        "mqls": args.mqls,
        "activities": args.activities,
        "repeat": args.repeat,
        "clocks_read": {"first": first[4], "hourly": steady[4]},
        "read_first_seconds": round(read_first, 2),
        "read_hourly_seconds": round(read_hourly, 2),
        "evaluate_first_seconds": round(first[0], 2),
        "evaluate_first_phases_seconds": first[1],
        "evaluate_hourly_seconds": round(steady[0], 2),
        "evaluate_hourly_phases_seconds": steady[1],
        "all_seconds": {
            "read_first": [round(r[3], 2) for r in firsts],
            "evaluate_first": [round(r[0], 2) for r in firsts],
            "read_hourly": [round(r[3], 2) for r in steadies],
            "evaluate_hourly": [round(r[0], 2) for r in steadies],
        },
        "ratio_first_to_read": round(first[0] / read_first, 2),
        "ratio_hourly_to_read": round(steady[0] / read_hourly, 2),
        "first_within_budget": first[0] <= 2 * read_first,
        "hourly_within_budget": steady[0] <= 2 * read_hourly,
        "evaluated": steady[2]["evaluated"],
        "written_hourly": steady[2]["written"],
        "new_breaches_first": first[2]["new_breaches"],
        "status": steady[2]["status"],
    }
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
