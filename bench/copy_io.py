"""Benchmark of the COPY module (`smarketing.warehouse.copy`) against the other ways to move the same rows.

    .venv/bin/python bench/copy_io.py --rows 1000000

(Not `bench/copy.py`: run as a script, that name would shadow the standard library's `copy` module.)

Builds a throwaway database (dropped at the end) and moves the same `--rows` rows each way, timing
only the transfer (building the frame or arrays the caller already holds is outside every timer;
serialising them is inside every timer). Each figure is the best of `--repeat` rounds, each run into a
freshly truncated table in its own transaction (the machine's other work adds noise, never speed).
Layouts:

* `in_fixed`: 4 non-null fixed-width columns (int8, int4, float8, timestamptz), as numpy arrays;
* `in_nullable`: 6 columns with NULLs and text (int8, timestamptz, float8, 2 text, int8), as a frame;
* `in_text`: raw landing's COPY text lines (Arrow-built, 300-byte JSON payloads), streamed;
* `out_fixed`: the `in_fixed` rows read back into numpy arrays;
* `out_frame`: the `in_nullable` rows read back into a frame.

Against each, in the same run: psycopg's own row API (`Copy.write_row` / `Copy.rows`, binary, typed:
the documented way to COPY with psycopg); for text in, psycopg's `Copy.write` of the same block (how
landing wrote before); for frames out, psycopg's COPY iterator with Arrow's or pandas' CSV reader (how
`sla/store.py` and the core build read before). The project's earlier COPY modules that this one
replaced join when importable; to measure them again, put them back from the commit before their
removal (docs/warehouse.md names it):

    git show c026606:include/smarketing/scoring/copyio.py > include/smarketing/scoring/copyio.py
    git show c026606:include/smarketing/sla/copybin.py > include/smarketing/sla/copybin.py

Prints one JSON object: per layout the best seconds (each round runs every variant once), rows per
second, and each alternative's time as a ratio to the module's fastest way (>1: the module is faster).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

from smarketing.warehouse import copy as copy_module
from smarketing.warehouse.connection import drop_database, ensure_database, redact_dsn, with_database

FIXED = [("lead_id", "int8"), ("day", "int4"), ("value", "float8"), ("at", "timestamptz")]
NULLABLE_DDL = "id int8, at timestamptz, share float8, label text, owner text, amount int8"
TIMES, TEXTS = ("at",), ("label", "owner")


def _old(module: str) -> Any | None:
    """An earlier COPY implementation, when this checkout still has it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def fixed_arrays(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    at = pd.Timestamp("2026-01-01", tz="UTC").value // 1000 + rng.integers(0, 300 * 86_400_000_000, n)
    return {
        "lead_id": np.arange(1, n + 1, dtype=np.int64),
        "day": rng.integers(0, 400, n).astype(np.int32),
        "value": rng.random(n) * 100,
        "at": at.astype(np.int64),
    }


def nullable_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    missing = rng.random((4, n)) < 0.1
    at = pd.to_datetime(pd.Timestamp("2026-01-01").value + rng.integers(0, 300 * 86_400, n) * 10**9, utc=True)
    labels = np.array([f'campaign {i} — Q{i % 4 + 1}, "spring"' for i in range(1000)], dtype=object)
    owners = np.array([f"crm:{i}" for i in range(60)], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "at": at.where(~missing[0]),
            "share": np.where(missing[1], np.nan, rng.random(n)),
            "label": pd.Series(labels[rng.integers(0, 1000, n)]).where(~missing[2], None),
            "owner": pd.Series(owners[rng.integers(0, 60, n)]).where(~missing[3], None),
            "amount": pd.array(np.where(missing[0], 0, rng.integers(0, 10**9, n)), dtype="Int64"),
        }
    )


def text_lines(n: int) -> memoryview:
    from smarketing.warehouse.loading import copy_block

    payload = pc.binary_join_element_wise(
        '{"email_hash":"',
        pa.array(np.char.mod("%064x", np.arange(n))),
        '","attributes":{"k":"' + "v" * 180 + '"}}',
        "",
    )
    rows = pa.table({"source_id": pa.array(np.arange(n).astype(str)), "payload": payload})
    return copy_block(rows, batch_id=1, first_record_no=1, source_system="bench")


# -- psycopg's own row API: the documented baseline -------------------------------------------------
def psycopg_write_rows(
    conn: psycopg.Connection, table: str, columns: list[str], types: list[str], rows: Any
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def psycopg_fixed_rows(conn: psycopg.Connection, arrays: dict[str, np.ndarray]) -> None:
    at = copy_module.utc(arrays["at"]).to_pydatetime()
    rows = zip(arrays["lead_id"].tolist(), arrays["day"].tolist(), arrays["value"].tolist(), at, strict=True)
    psycopg_write_rows(conn, "fixed", [c for c, _ in FIXED], ["int8", "int4", "float8", "timestamptz"], rows)


def psycopg_nullable_rows(conn: psycopg.Connection, frame: pd.DataFrame) -> None:
    columns = list(frame.columns)
    values = frame.astype(object).where(frame.notna(), None)
    values["at"] = [None if v is None else v.to_pydatetime() for v in values["at"]]
    types = ["int8", "timestamptz", "float8", "text", "text", "int8"]
    psycopg_write_rows(conn, "nullable", columns, types, values.itertuples(index=False, name=None))


def psycopg_read_rows(conn: psycopg.Connection, query: str, types: list[str]) -> list[tuple]:
    with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:  # type: ignore[arg-type]
        copy.set_types(types)
        return list(copy.rows())


def psycopg_fixed_out(conn: psycopg.Connection) -> dict[str, np.ndarray]:
    rows = psycopg_read_rows(
        conn, "SELECT lead_id, day, value, at FROM fixed", ["int8", "int4", "float8", "timestamptz"]
    )
    lead_id, day, value, at = zip(*rows, strict=True) if rows else ([], [], [], [])
    return {"lead_id": np.array(lead_id), "day": np.array(day), "value": np.array(value), "at": np.array(at)}


def psycopg_frame_out(conn: psycopg.Connection) -> pd.DataFrame:
    types = ["int8", "timestamptz", "float8", "text", "text", "int8"]
    rows = psycopg_read_rows(conn, "SELECT * FROM nullable", types)
    return pd.DataFrame(rows, columns=["id", "at", "share", "label", "owner", "amount"])


# -- the layouts -----------------------------------------------------------------------------------
def in_fixed_variants(arrays: dict[str, np.ndarray]) -> dict[str, Callable[[psycopg.Connection], object]]:
    variants: dict[str, Callable[[psycopg.Connection], object]] = {
        "module.copy_in_fixed": lambda c: copy_module.copy_in_fixed(c, "fixed", FIXED, arrays),
        "psycopg.write_row": lambda c: psycopg_fixed_rows(c, arrays),
    }
    if old := _old("smarketing.scoring.copyio"):
        variants["old.scoring.copyio.copy_in_fixed"] = lambda c: old.copy_in_fixed(c, "fixed", FIXED, arrays)
    return variants


def in_nullable_variants(frame: pd.DataFrame) -> dict[str, Callable[[psycopg.Connection], object]]:
    table = sql.Identifier("nullable")
    variants: dict[str, Callable[[psycopg.Connection], object]] = {
        "module.copy_in_columns": lambda c: copy_module.copy_in_columns(
            c, "nullable", copy_module.encode(frame, times=TIMES, texts=TEXTS)
        ),
        "module.copy_in_frame": lambda c: copy_module.copy_in_frame(c, "nullable", frame),
        "psycopg.write_row": lambda c: psycopg_nullable_rows(c, frame),
    }
    if old := _old("smarketing.sla.copybin"):
        variants["old.sla.copybin.copy_native"] = lambda c: old.copy_native(
            c, table, old.encode(frame, times=TIMES, texts=TEXTS)
        )
    if old_io := _old("smarketing.scoring.copyio"):
        variants["old.scoring.copyio.copy_in_frame"] = lambda c: old_io.copy_in_frame(c, "nullable", frame)
    return variants


def in_text_variants(block: memoryview) -> dict[str, Callable[[psycopg.Connection], object]]:
    columns = ["batch_id", "record_no", "source_system", "source_id", "source_updated_at", "payload"]

    def landing_before(conn: psycopg.Connection) -> None:
        # loading.land_batch's COPY before the module: one cursor.copy, the Arrow-built block written whole.
        statement = sql.SQL("COPY landed ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(block)

    return {
        "module.copy_in_stream": lambda c: copy_module.copy_in_stream(c, "landed", columns, [block]),
        "psycopg.copy.write": landing_before,
    }


def out_fixed_variants() -> dict[str, Callable[[psycopg.Connection], object]]:
    query = sql.SQL("SELECT lead_id, day, value, at FROM fixed")
    variants: dict[str, Callable[[psycopg.Connection], object]] = {
        "module.copy_out_fixed": lambda c: copy_module.copy_out_fixed(c, query, FIXED),
        "psycopg.rows": psycopg_fixed_out,
    }
    if old := _old("smarketing.scoring.copyio"):
        variants["old.scoring.copyio.copy_out_fixed"] = lambda c: old.copy_out_fixed(c, query, FIXED)
    return variants


def out_frame_variants() -> dict[str, Callable[[psycopg.Connection], object]]:
    query = sql.SQL("SELECT * FROM nullable")
    text = {c: pa.string() for c in TEXTS}
    variants: dict[str, Callable[[psycopg.Connection], object]] = {
        "module.copy_out_csv": lambda c: copy_module.copy_out_csv(c, query, types=text, infer=True),
        "psycopg.rows": psycopg_frame_out,
    }
    if old := _old("smarketing.scoring.copyio"):
        typed = {
            "id": pa.int64(),
            "at": pa.timestamp("us", "UTC"),
            "share": pa.float64(),
            "amount": pa.int64(),
        }
        variants["old.scoring.copyio.copy_out_csv"] = lambda c: old.copy_out_csv(c, query, types=typed)
    # How sla/store.py and the core build read before the module (psycopg's COPY iterator, then Arrow or
    # pandas parsing the CSV): the usual way to read COPY with psycopg, kept as baselines.
    variants["psycopg.copy+arrow.read_csv"] = lambda c: iterator_csv(c, "SELECT * FROM nullable", arrow=True)
    variants["psycopg.copy+pandas.read_csv"] = lambda c: iterator_csv(
        c, "SELECT * FROM nullable", arrow=False
    )
    return variants


def iterator_csv(conn: psycopg.Connection, query: str, *, arrow: bool) -> pd.DataFrame:
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)") as copy:  # type: ignore[arg-type]
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not arrow:
        return pd.read_csv(buffer, dtype=dict.fromkeys(TEXTS, object), keep_default_na=False, na_values=[""])
    options = pacsv.ConvertOptions(
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        column_types=dict.fromkeys(TEXTS, pa.string()),
    )
    return pacsv.read_csv(buffer, convert_options=options).to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get
    )


# -- timing ------------------------------------------------------------------------------------------
def timed(dsn: str, run: Callable[[psycopg.Connection], object], truncate: str | None) -> float:
    """One run in its own transaction, after a truncate and a checkpoint (neither timed)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if truncate:
            conn.execute(f"TRUNCATE {truncate}")  # type: ignore[arg-type]
        conn.execute("CHECKPOINT")
        with conn.transaction():
            started = time.perf_counter()
            run(conn)
            return time.perf_counter() - started


def measure(
    dsn: str, repeat: int, rows: int, variants: dict[str, Callable], truncate: str | None = None
) -> dict[str, Any]:
    """Best of `repeat` rounds; each round runs every variant once, so noise from the machine's other
    work spreads over all of them instead of landing on whichever ran at a bad moment."""
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            runs[name].append(timed(dsn, run, truncate))
    seconds = {name: min(times) for name, times in runs.items()}
    module = min(v for k, v in seconds.items() if k.startswith("module."))
    return {
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "all_seconds": {k: [round(t, 3) for t in v] for k, v in runs.items()},
        "rows_per_second": {k: round(rows / v) for k, v in seconds.items()},
        "ratio_to_module": {
            k: round(v / module, 2) for k, v in seconds.items() if not k.startswith("module.")
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Best of this many runs of each measurement.")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(7)
    arrays, frame, block = fixed_arrays(args.rows, rng), nullable_frame(args.rows, rng), text_lines(args.rows)
    dsn = with_database(args.server, f"smk_bench_copy_{uuid.uuid4().hex[:8]}")
    ensure_database(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE UNLOGGED TABLE fixed (lead_id int8, day int4, value float8, at timestamptz)")
            conn.execute(f"CREATE UNLOGGED TABLE nullable ({NULLABLE_DDL})")
            conn.execute(
                "CREATE UNLOGGED TABLE landed (batch_id int8, record_no int8, source_system text, source_id text,"
                " source_updated_at timestamptz, payload jsonb)"
            )
        layouts = {
            "in_fixed": measure(dsn, args.repeat, args.rows, in_fixed_variants(arrays), "fixed"),
            "in_nullable": measure(dsn, args.repeat, args.rows, in_nullable_variants(frame), "nullable"),
            "in_text": measure(dsn, args.repeat, args.rows, in_text_variants(block), "landed"),
        }
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE fixed, nullable")
            copy_module.copy_in_fixed(conn, "fixed", FIXED, arrays)
            copy_module.copy_in_frame(conn, "nullable", frame)
            conn.execute("VACUUM ANALYZE fixed, nullable")
        layouts["out_fixed"] = measure(dsn, args.repeat, args.rows, out_fixed_variants())
        layouts["out_frame"] = measure(dsn, args.repeat, args.rows, out_frame_variants())
    finally:
        drop_database(dsn)
    result = {
        "benchmark": "warehouse.copy",
        "server": redact_dsn(args.server),
        "rows": args.rows,
        "repeat": args.repeat,
        "layouts": layouts,
    }
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
