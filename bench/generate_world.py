"""Benchmark of sandbox world generation (no database) against a plain pandas writer of the same rows.

    .venv/bin/python bench/generate_world.py --contacts 200000

Ours: `generate_world` (simulate the company, then write every export with the Arrow-based writer).
Baseline: the same rows, already in memory as DataFrames (every file read back with pandas' own type
inference, ISO timestamps as datetime64, outside the timer), written by `DataFrame.to_csv` into
another directory: what writing the world's rows alone costs with the straightforward tool, no
simulation at all. Both timers cover the writing to disk of the same rows; ours also covers the
simulation, so the ratio `generate_over_pandas_write` is how much a whole world costs over merely
writing its files with pandas (below 1: the simulation plus our writer beat pandas' writing alone).

Prints one JSON object: time, peak memory (of the generation, before the baseline loads anything),
rows and bytes of both.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from smarketing_sandbox.world import DEFAULT_END, generate_world

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _frames(world: Path) -> dict[Path, pd.DataFrame]:
    """Every CSV of the world as a typed DataFrame (numbers inferred, ISO timestamps as datetime64)."""
    frames = {}
    for path in sorted(world.rglob("*.csv")):
        frame = pd.read_csv(path, low_memory=False)
        for name in frame.columns:
            sample = frame[name].dropna()
            if frame[name].dtype == object and len(sample) and _ISO.match(str(sample.iloc[0])):
                frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        frames[path.relative_to(world)] = frame
    return frames


def pandas_write(world: Path, out: Path) -> dict:
    """Time `DataFrame.to_csv` of every file of `world` into `out` (reading happens before the timer)."""
    frames = _frames(world)
    started = time.perf_counter()
    for relative, frame in frames.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    seconds = time.perf_counter() - started
    return {
        "writer": "pandas.DataFrame.to_csv",
        "seconds": round(seconds, 2),
        "rows": sum(len(f) for f in frames.values()),
        "bytes_written": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--out", type=Path, help="Keep the world here (default: a temporary directory).")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smk-world-") as tmp:
        out = args.out or Path(tmp) / "world"
        started = time.perf_counter()
        rows = generate_world(out, contacts=args.contacts, seed=args.seed, days=args.days, end=DEFAULT_END)
        seconds = time.perf_counter() - started
        # ru_maxrss is in kibibytes on Linux; read before the baseline loads the frames.
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        baseline = None if args.skip_baseline else pandas_write(out, Path(tmp) / "pandas")
    result = {
        "benchmark": "sandbox.generate_world",
        "contacts": args.contacts,
        "days": args.days,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_mib),
        "bytes_written": size,
        "events_per_second": round(rows["ma/activity.csv"] / seconds),
        "rows": rows,
    }
    if baseline is not None:
        csv_rows = sum(n for name, n in rows.items() if name.endswith(".csv"))
        assert baseline["rows"] == csv_rows, (baseline["rows"], csv_rows)
        result["baseline"] = baseline
        result["generate_over_pandas_write"] = round(seconds / baseline["seconds"], 3)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
