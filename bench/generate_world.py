"""Micro-benchmark of sandbox world generation alone (no database): time, peak memory, rows, bytes.

    .venv/bin/python bench/generate_world.py --contacts 1000000

Prints one JSON object. Baseline (2 cores, 1M contacts, 180 days): 50-70 s wall (~52 s CPU), ~1.5 GB peak RSS,
~20.8M marketing events.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from smarketing_sandbox.world import DEFAULT_END, generate_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--out", type=Path, help="Keep the world here (default: a temporary directory).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smk-world-") as tmp:
        out = args.out or Path(tmp)
        started = time.perf_counter()
        rows = generate_world(out, contacts=args.contacts, seed=args.seed, days=args.days, end=DEFAULT_END)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    # ru_maxrss is in kibibytes on Linux.
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
