"""Benchmark: API extraction under a rate limit, and COPY landing against to_sql and psql \\copy.

1. **Rate**: the sandbox API server enforces R search requests per second (answering 429 past it);
   worker threads pull HubSpot search objects through ONE client whose limiter is set to the same R.
   Reports the sustained request rate (requests / busy time) and the share of requests answered 429.
2. **Landing**: the same N canonical rows landed three ways into tables shaped like raw.leads —
   `land_batch` (Arrow → COPY, what the connectors use), `DataFrame.to_sql` and a plain `psql \\copy`
   of the very bytes land_batch sent — in the same run, each timed on the same work: the rows with
   their payloads already JSON text (the connectors build it column-wise before landing; to_sql gets
   the same text, passed through untouched), from an open connection to committed rows. psql's own
   start-up and connection (measured with an empty `psql -c ''`, median of 5) is subtracted from its
   time, and a server-side `COPY ... FROM '<file>'` of the same bytes on an open connection is timed
   too. A last load, `psql \\copy` of those bytes into a bare table (payload as text, no index),
   shows what the server alone costs: JSONB parsing and the `(source_system, source_id)` index are
   most of a landing, whoever sends the rows.

    .venv/bin/python bench/extract.py --contacts 50000 --rate 10 --rows 200000

Prints JSON. A scratch database and world are created and removed. Sizes are arguments: the full
200k-contact / 2M-event world fits, but a run at HubSpot's real 5 searches/s then takes a while.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import requests

from smarketing.sources.http import ApiCredentials, RateLimit, RetryPolicy
from smarketing.sources.hubspot.connector import extract_object
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.hubspot.settings import HubSpotSettings
from smarketing.sources.records import canonical_table
from smarketing.sources.state import extraction_lock
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, redact_dsn, with_database
from smarketing.warehouse.loading import copy_block, land_batch
from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import SandboxServer, ServerConfig
from smarketing_sandbox.world import generate_world

SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SEARCH_OBJECTS = ("contacts", "companies", "calls", "emails", "meetings", "notes", "tasks", "deals")


# -- 1. rate ----------------------------------------------------------------------------------------
def _serve(world_dir: str, rate: int, port_out: Connection) -> None:
    """The sandbox server in its own process, so it does not share the client's interpreter lock."""
    config = ServerConfig(rate_limits={"hubspot.search": RateLimit(rate, 1.0)})
    server = SandboxServer(ApiWorld.load(Path(world_dir)), config)
    port_out.send((server.url, config.hubspot_token))
    server.serve_forever()


def bench_rate(dsn: str, world_dir: Path, *, rate: int, threads: int) -> dict:
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(str(world_dir), rate, send), daemon=True
    )
    process.start()
    url, token = receive.recv()
    sent: list[float] = []
    lock = threading.Lock()
    try:
        settings = HubSpotSettings(
            lag_s=0,
            limits={"search": RateLimit(rate, 1.0)},
            retry=RetryPolicy(attempts=10, initial_wait=0.2, max_wait=2.0),
        )
        client = HubSpotHook(credentials=ApiCredentials(base_url=url, token=token)).client(settings)
        # Time every search request as it leaves (after the limiter), to measure the sustained rate.
        original = client.session.request

        def timed(method: str, target: str, **kwargs: object):
            if target.endswith("/search"):
                with lock:
                    sent.append(time.monotonic())
            return original(method, target, **kwargs)

        client.session.request = timed  # type: ignore[method-assign]
        queue = list(SEARCH_OBJECTS)
        results: dict[str, dict] = {}
        errors: list[str] = []
        now_ms = int(time.time() * 1000)

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    name = queue.pop(0)
                try:
                    with (
                        psycopg.connect(dsn, autocommit=True) as conn,
                        extraction_lock(conn, "hubspot", name),
                    ):
                        results[name] = extract_object(
                            conn, client, settings, name, now_ms=now_ms, run_id="bench"
                        )
                except Exception as exc:  # reported, not hidden
                    errors.append(f"{name}: {exc}")

        started = time.monotonic()
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.monotonic() - started
        counters = requests.get(url + "/_sandbox/stats", timeout=10).json()["counters"]
    finally:
        process.terminate()
        process.join(timeout=10)
    admitted = counters.get("admitted.hubspot.search", 0)
    throttled = counters.get("throttled.hubspot.search", 0)
    busy = (sent[-1] - sent[0]) if len(sent) > 1 else float("nan")
    # Steady state: the middle 80% of the requests, away from the start and from a tail where one
    # last object is left for one thread.
    lo, hi = int(len(sent) * 0.1), int(len(sent) * 0.9)
    steady = (hi - lo) / (sent[hi] - sent[lo]) if hi - lo > 1 else float("nan")
    return {
        "rate_limit_per_s": rate,
        "threads": threads,
        "search_requests": len(sent),
        "sustained_rate_per_s": round((len(sent) - 1) / busy, 3),
        "sustained_over_limit": round((len(sent) - 1) / busy / rate, 3),
        "steady_rate_per_s": round(steady, 3),
        "answered_429": throttled,
        "share_429": round(throttled / max(1, admitted + throttled), 4),
        "client_retries": client.stats.as_dict()["retries_by_reason"],
        "records_landed": sum(r["landed"] for r in results.values()),
        "elapsed_s": round(elapsed, 2),
        "errors": errors,
    }


# -- 2. landing -------------------------------------------------------------------------------------
def canonical_rows(n: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = pa.array([str(10_000_000 + i) for i in range(n)])
    base = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    updated = pa.array(base + rng.integers(0, 300 * 86_400_000, n), pa.int64())
    stages = np.array(["subscriber", "lead", "marketingqualifiedlead", "customer"])
    titles = np.array(["CTO", "Head of IT", "Marketing Manager", "Analyst", "VP Sales"])
    table = canonical_table(
        source_id=ids,
        updated_ms=updated,
        fields={
            "email": ("text", pa.array([f"person.{i}@company{i % 997}.example" for i in range(n)])),
            "job_title": ("text", pa.array(titles[rng.integers(0, 5, n)])),
            "country": ("text", pa.array(np.array(["FR", "DE", "US", "GB"])[rng.integers(0, 4, n)])),
            "lifecycle_stage": ("text", pa.array(stages[rng.integers(0, 4, n)])),
            "created_at": ("timestamp", updated),
            "updated_at": ("timestamp", updated),
            "consent_email": ("boolean", pa.array(np.where(rng.random(n) < 0.8, "true", "false"))),
        },
        attributes={"firstname": pa.array(["Léa"] * n), "lastname": pa.array(["Roux"] * n)},
    )
    return table.select(["source_id", "source_updated_at", "payload"])


def bench_landing(dsn: str, rows: int, to_sql_rows: int, repeats: int) -> dict:
    """Median of `repeats` rounds; the order of the loaders rotates from round to round."""
    from sqlalchemy import create_engine
    from sqlalchemy.dialects.postgresql import JSONB

    table = canonical_rows(rows)
    columns = "batch_id, record_no, source_system, source_id, source_updated_at, payload"
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("bench_to_sql", "bench_psql", "bench_server"):
            conn.execute(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (LIKE raw.leads INCLUDING ALL)")
        conn.execute(
            "DROP TABLE IF EXISTS bench_bare; CREATE TABLE bench_bare (batch_id bigint, record_no integer,"
            " source_system text, source_id text, source_updated_at timestamptz, payload text)"
        )
    # Payloads arrive as JSON text, as land_batch gets them: the engine passes them through untouched.
    engine = create_engine(
        dsn.replace("postgresql://", "postgresql+psycopg://", 1), json_serializer=lambda text: text
    )
    workdir = Path(tempfile.mkdtemp(prefix="smarketing-bench-"))
    workdir.chmod(0o755)  # the server-side COPY reads the file as the server's user
    copy_file = workdir / "rows.copy"
    # psql loads the very bytes land_batch sends; to_sql the same rows as a DataFrame (a subset: it is slow).
    copy_file.write_bytes(bytes(copy_block(table, batch_id=1, first_record_no=1, source_system="bench")))
    copy_file.chmod(0o644)
    frame = table.to_pandas().head(to_sql_rows)
    frame.insert(0, "record_no", np.arange(1, len(frame) + 1))
    frame.insert(0, "batch_id", 1)
    frame.insert(2, "source_system", "bench")
    frame["source_updated_at"] = pd.to_datetime(frame["source_updated_at"], utc=True, format="ISO8601")

    def ours() -> float:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE raw.leads, ops.load_batches")
            started = time.perf_counter()
            batch = land_batch(
                conn, source_system="bench", object="leads", origin="bench", rows=[table], run_id="bench"
            )
            elapsed = time.perf_counter() - started
        assert batch is not None and batch.rows == rows
        return elapsed

    def psql(*command: str) -> float:
        started = time.perf_counter()
        subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", *command], check=True)
        return time.perf_counter() - started

    startup = float(np.median([psql("-c", "") for _ in range(5)]))

    def psql_into(target: str) -> float:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {target}")
        return psql("-c", f"\\copy {target} ({columns}) FROM '{copy_file}'") - startup

    def server_copy() -> float:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE bench_server")
            started = time.perf_counter()
            conn.execute(f"COPY bench_server ({columns}) FROM '{copy_file}'")
            return time.perf_counter() - started

    def to_sql() -> float:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE bench_to_sql")
        with engine.connect() as connection:  # connected outside the timer, as the others
            started = time.perf_counter()
            with connection.begin():
                frame.to_sql(
                    "bench_to_sql", connection, if_exists="append", index=False, dtype={"payload": JSONB}
                )
            return time.perf_counter() - started

    loaders = {
        "land_batch": ours,
        "psql_copy": lambda: psql_into("bench_psql"),
        "server_copy": server_copy,
        "to_sql": to_sql,
        "psql_copy_bare": lambda: psql_into("bench_bare"),
    }
    times: dict[str, list[float]] = {name: [] for name in loaders}
    try:
        for round_no in range(repeats):
            names = list(loaders)
            for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
                times[name].append(loaders[name]())
        with psycopg.connect(dsn) as conn:  # to_sql landed real JSON objects, not JSON strings
            kind = conn.execute("SELECT jsonb_typeof(payload) FROM bench_to_sql LIMIT 1").fetchone()
        assert kind == ("object",), kind
    finally:
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    median = {name: float(np.median(values)) for name, values in times.items()}
    rate = {name: (len(frame) if name == "to_sql" else rows) / t for name, t in median.items()}
    return {
        "rows": rows,
        "repeats": repeats,
        "land_batch_s": round(median["land_batch"], 3),
        "land_batch_rows_per_s": round(rate["land_batch"]),
        "psql_startup_s": round(startup, 3),
        "psql_copy_s": round(median["psql_copy"], 3),
        "psql_copy_rows_per_s": round(rate["psql_copy"]),
        "server_copy_s": round(median["server_copy"], 3),
        "server_copy_rows_per_s": round(rate["server_copy"]),
        "to_sql_rows": len(frame),
        "to_sql_s": round(median["to_sql"], 3),
        "to_sql_rows_per_s": round(rate["to_sql"]),
        "land_batch_over_to_sql": round(rate["land_batch"] / rate["to_sql"], 2),
        "land_batch_over_psql_copy": round(rate["land_batch"] / rate["psql_copy"], 3),
        "land_batch_over_server_copy": round(rate["land_batch"] / rate["server_copy"], 3),
        "psql_copy_bare_rows_per_s": round(rate["psql_copy_bare"]),
        # The ceiling of any loader into raw's real shape, against to_sql (same server, same rows).
        "psql_copy_over_to_sql": round(rate["psql_copy"] / rate["to_sql"], 2),
        "psql_copy_bare_over_to_sql": round(rate["psql_copy_bare"] / rate["to_sql"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--rate", type=int, default=10, help="search requests per second the server allows")
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the landing comparison")
    parser.add_argument("--to-sql-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3, help="landing rounds (the median is reported)")
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--skip-landing", action="store_true")
    args = parser.parse_args()

    dsn = with_database(SERVER_DSN, f"smk_bench_extract_{uuid.uuid4().hex[:8]}")
    world_dir = Path(tempfile.mkdtemp(prefix="smarketing-bench-world-"))
    out: dict = {"warehouse": redact_dsn(dsn)}
    try:
        migrate.upgrade(dsn)
        if not args.skip_rate:
            end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            started = time.perf_counter()
            rows = generate_world(world_dir, contacts=args.contacts, seed=7, days=args.days, end=end)
            out["world"] = {
                "contacts": args.contacts,
                "generate_s": round(time.perf_counter() - started, 1),
                "rows": rows,
            }
            out["rate"] = bench_rate(dsn, world_dir, rate=args.rate, threads=args.threads)
        if not args.skip_landing:
            out["landing"] = bench_landing(dsn, args.rows, min(args.to_sql_rows, args.rows), args.repeats)
    finally:
        drop_database(dsn)
        shutil.rmtree(world_dir, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
