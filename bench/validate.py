"""Benchmark: validating a freshly landed batch of N marketing events, against the time its landing took.

In one run and one scratch warehouse: the events' leads are landed and validated first (so references
resolve, and Great Expectations is imported and warm), then an export of N events is landed through the
file-export source (timed: `landing_s`), then `validate_raw` checks it (timed: `validation_s`): staging,
every expectation in PostgreSQL, quarantine of the bad rows, verdicts, results and Data Docs. A share
of the events is broken on purpose (orphans and future timestamps, `--bad-share`) so the quarantine path
is part of the measure. Prints JSON:

    {"rows": ..., "rounds": [{"landing_s": ..., "validation_s": ..., "ratio": ..., "psql_copy_s": ...,
     "landing_vs_psql_copy": ..., "phases_s": {...}}, ...], "median_ratio": ..., "target_ratio": 0.3,
     "median_landing_vs_psql_copy": ..., "psql_startup_s": ...}

`ratio` = validation_s / landing_s, per round (each round lands and validates a new export of N events
on top of the previous ones); the target is <= 0.30. Our landing is not the fastest possible load, so
each round also loads the very rows it landed (the same payloads, dumped as COPY text outside any timer)
with `psql \\copy` into a table of raw.marketing_events' shape (same columns and indexes, holding the
same earlier rounds), timed the same way from the start of the load to committed rows: psql's own
start-up and connection (an empty `psql -c ''`, median of 5) is taken off its time.
`landing_vs_psql_copy` = landing_s / psql_copy_s, and validation_s / psql_copy_s is what validation
costs against the bare load. Usage: `.venv/bin/python bench/validate.py --rows 1000000`. The scratch
database and files are removed at the end. The first read of freshly copied rows sets their hint bits
(and writes the pages): validation pays that for the core build too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import MAPPING as EVENTS_MAPPING
from ingest import generate_events

from smarketing.config import load_config
from smarketing.paths import CONFIG_DIR
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import load_settings
from smarketing.sources.files import ingest_source
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, redact_dsn, with_database

SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LEADS_MAPPING = """
source_system: bench_ma
files:
  - object: leads
    path: contacts.csv
    id: id
    columns: {email: email, created_at: date_added}
"""


def leads_export(count: int) -> pa.Table:
    ids = pa.array(np.arange(1, count + 1)).cast(pa.string())
    return pa.table(
        {
            "id": ids,
            "email": pc.binary_join_element_wise("person", ids, "@corp.example", ""),
            "date_added": pa.array(["2026-04-01T00:00:00Z"] * count),
        }
    )


def break_events(events: pa.Table, share: float, seed: int = 3) -> tuple[pa.Table, int]:
    """Orphans (half) and far-future timestamps (half) in `share` of the rows."""
    rng = np.random.default_rng(seed)
    bad = rng.random(events.num_rows) < share
    orphan = bad & (rng.random(events.num_rows) < 0.5)
    future = bad & ~orphan
    lead = pc.if_else(pa.array(orphan), "999999999", events.column("lead_id"))
    when = pc.if_else(pa.array(future), "2031-01-01T00:00:00Z", events.column("timestamp"))
    broken = events.set_column(events.schema.get_field_index("lead_id"), "lead_id", lead)
    broken = broken.set_column(broken.schema.get_field_index("timestamp"), "timestamp", when)
    return broken, int(bad.sum())


def checkpoint(dsn: str) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def _psql(dsn: str, *command: str) -> float:
    """Seconds a psql process takes to run `command`, start-up and connection included."""
    started = time.perf_counter()
    subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", *command], check=True)
    return time.perf_counter() - started


def psql_copy_of_batch(dsn: str, work: Path, startup: float, run_id: str) -> float:
    """Load the events landed by `run_id` again with `psql \\copy` into bench_copy.

    The dump is written before the timer starts; `startup` (psql's own start-up and connection) is
    taken off the time, which then covers what the landing's covers: the load up to committed rows.
    """
    dump = work / "landed.copy"
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bench_copy (LIKE raw.marketing_events INCLUDING ALL)")
        conn.commit()
        statement = (
            "COPY (SELECT r.* FROM raw.marketing_events r JOIN ops.load_batches b USING (batch_id)"
            " WHERE b.run_id = %s ORDER BY r.batch_id, r.record_no) TO STDOUT"
        )
        with dump.open("wb") as out, conn.cursor().copy(statement, (run_id,)) as copy:
            for block in copy:
                out.write(block)
    checkpoint(dsn)
    return _psql(dsn, "-c", f"\\copy public.bench_copy FROM '{dump}'") - startup


def run(rows: int, bad_share: float, docs: bool, rounds: int) -> dict[str, object]:
    dsn = with_database(SERVER_DSN, f"smk_bench_{uuid.uuid4().hex[:8]}")
    work = Path(tempfile.mkdtemp(prefix="smk_bench_validate_"))
    try:
        migrate.upgrade(dsn)
        events = generate_events(rows)
        leads = int(pc.max(events.column("lead_id").cast(pa.int64())).as_py())
        pacsv.write_csv(leads_export(leads), work / "contacts.csv")
        (work / "events.yaml").write_text(EVENTS_MAPPING, encoding="utf-8")
        (work / "leads.yaml").write_text(LEADS_MAPPING, encoding="utf-8")
        settings = load_settings(
            CONFIG_DIR / "quality.yaml",
            {"data_docs": {"enabled": docs, "dir": str(work / "docs"), "project_dir": str(work / "gx")}},
        )
        agreement = load_config()
        startup = float(np.median([_psql(dsn, "-c", "") for _ in range(5)]))

        ingest_source(dsn, work / "leads.yaml", root=work, run_id="leads")
        started = time.perf_counter()
        validate_raw(dsn, run_id="leads", settings=settings, agreement=agreement)
        warm_up = time.perf_counter() - started

        measured = []
        for round_no in range(rounds):
            # Each round a new export of N new events (ids of their own: the landing skips records raw
            # already holds) with other broken rows: a new batch on top of the last.
            broken_events, broken = break_events(events, bad_share, seed=round_no)
            ids = pc.binary_join_element_wise(f"r{round_no}-", events.column("id"), "")
            broken_events = broken_events.set_column(broken_events.schema.get_field_index("id"), "id", ids)
            pacsv.write_csv(broken_events, work / "activity.csv")
            checkpoint(dsn)
            started = time.perf_counter()
            landed = ingest_source(dsn, work / "events.yaml", root=work, run_id=f"events-{round_no}")
            landing = time.perf_counter() - started
            if landed["marketing_events"] != rows:
                raise RuntimeError(f"landed {landed} instead of {rows} rows")
            checkpoint(dsn)
            started = time.perf_counter()
            report = validate_raw(
                dsn,
                run_id=f"events-{round_no}",
                settings=settings,
                agreement=agreement,
                raise_on_failure=False,
            )
            validation = time.perf_counter() - started
            baseline = psql_copy_of_batch(dsn, work, startup, f"events-{round_no}")
            measured.append(
                {
                    "landing_s": round(landing, 2),
                    "validation_s": round(validation, 2),
                    "ratio": round(validation / landing, 3),
                    "psql_copy_s": round(baseline, 2),
                    "landing_vs_psql_copy": round(landing / baseline, 2),
                    "validation_vs_psql_copy": round(validation / baseline, 2),
                    "broken_rows": broken,
                    "quarantined": report.rows_quarantined,
                    "gate_passed": report.success,
                    "phases_s": report.timings,
                }
            )
        return {
            "rows": rows,
            "rounds": measured,
            "median_ratio": float(np.median([m["ratio"] for m in measured])),
            "target_ratio": 0.30,
            "median_landing_vs_psql_copy": float(np.median([m["landing_vs_psql_copy"] for m in measured])),
            "median_validation_vs_psql_copy": float(
                np.median([m["validation_vs_psql_copy"] for m in measured])
            ),
            "psql_startup_s": round(startup, 3),
            "first_validation_s_with_gx_import": round(warm_up, 2),
            "data_docs": docs,
            "warehouse": redact_dsn(dsn),
        }
    finally:
        drop_database(dsn)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events in the batch (default 1,000,000)")
    parser.add_argument(
        "--bad-share", type=float, default=0.001, help="share of broken events (default 0.001)"
    )
    parser.add_argument("--no-docs", action="store_true", help="leave Data Docs out of the measure")
    parser.add_argument("--rounds", type=int, default=3, help="land-and-validate rounds (default 3)")
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.bad_share, docs=not args.no_docs, rounds=args.rounds)))


if __name__ == "__main__":
    main()
