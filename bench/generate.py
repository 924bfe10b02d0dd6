"""Benchmark: generate the sandbox world, ingest it (files → raw → core), next to a plain `psql \\copy`.

1. `generate_world` for N contacts over D days (timed);
2. `ingest_source` of both sandbox mappings into a scratch warehouse (timed, rows/s);
3. `build_core` (timed);
4. baseline: the very rows landed in raw.*, dumped and loaded again with `psql \\copy` into tables of the
   same shape (timed) — `ingest_vs_psql_copy` = our landing time / the bare load's.

Prints JSON. Usage: `.venv/bin/python bench/generate.py --contacts 1000000 --days 180`
(1M contacts ≈ 20M events; plan for tens of minutes and ~10 GB of disk). Scratch data is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from smarketing.config import load_config
from smarketing.paths import CONFIG_DIR
from smarketing.sources.files import ingest_source
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, redact_dsn, with_database
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import RAW_OBJECTS
from smarketing_sandbox.world import generate_world

SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MAPPINGS = ("sandbox_crm.yaml", "sandbox_ma.yaml")


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def _psql_copy_baseline(dsn: str, work: Path) -> tuple[int, float]:
    """Dump every raw table and load it again with psql \\copy into a same-shaped table; total time."""
    total_rows, total_s = 0, 0.0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for obj in RAW_OBJECTS:
            dump = work / f"{obj}.copy"
            conn.execute(f"CREATE TABLE public.copy_{obj} (LIKE raw.{obj} INCLUDING ALL)")
            with dump.open("wb") as out, conn.cursor().copy(f"COPY raw.{obj} TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
            total_rows += conn.execute(f"SELECT count(*) FROM raw.{obj}").fetchone()[0]
            conn.execute("CHECKPOINT")
            started = time.perf_counter()
            subprocess.run(
                ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", f"\\copy public.copy_{obj} FROM '{dump}'"],
                check=True,
            )
            total_s += time.perf_counter() - started
            dump.unlink()
    return total_rows, total_s


def run(contacts: int, days: int, seed: int) -> dict[str, object]:
    dsn = with_database(SERVER_DSN, f"smk_bench_gen_{uuid.uuid4().hex[:8]}")
    work = Path(tempfile.mkdtemp(prefix="smk_bench_gen_"))
    try:
        migrate.upgrade(dsn)
        end = datetime(2026, 11, 16, tzinfo=UTC)
        files, generate_s = _timed(
            generate_world, work / "world", contacts=contacts, seed=seed, days=days, end=end
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        landed: dict[str, int] = {}
        ingest_s = 0.0
        for mapping in MAPPINGS:
            rows, seconds = _timed(
                ingest_source, dsn, CONFIG_DIR / "sources" / mapping, root=work / "world", run_id="bench"
            )
            ingest_s += seconds
            for obj, n in rows.items():
                landed[obj] = landed.get(obj, 0) + n
        core, core_s = _timed(build_core, dsn, load_config())
        raw_rows, psql_s = _psql_copy_baseline(dsn, work)
        landed_rows = sum(landed.values())
        return {
            "contacts": contacts,
            "days": days,
            "files_rows": sum(files.values()),
            "events": files.get("ma/activity.csv", 0),
            "generate_s": round(generate_s, 1),
            "ingest_s": round(ingest_s, 1),
            "ingest_rows_per_s": round(landed_rows / ingest_s),
            "core_build_s": round(core_s, 1),
            "core_leads": core.get("leads"),
            "psql_copy_s": round(psql_s, 1),
            "psql_copy_rows_per_s": round(raw_rows / psql_s),
            "ingest_vs_psql_copy": round(ingest_s / psql_s, 2),
            "warehouse": redact_dsn(dsn),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop_database(dsn)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.contacts, args.days, args.seed), indent=2))


if __name__ == "__main__":
    main()
