"""A full rescore through the CeleryExecutor topology on one worker, then on two, in one run. Prints JSON.

    .venv/bin/python bench/cluster.py --leads 1000000 --events 5000000 --shards 4

Builds a throwaway warehouse (bench/score.py's synthetic leads and events; dropped at the end unless
`--keep`), then:

* `in_process`: the same full rescore with no orchestration (`run_scoring`, shards one after another
  in one process) — the baseline: what the cluster adds or saves is measured against it;
* `workers_1`, `workers_2`: a local deployment (tests/cluster/topology.py: api-server, scheduler,
  dag-processor, triggerer, N Celery workers of `--concurrency` slots) runs `smarketing_scoring` with
  `full_rescore` through the REST API; the run's wall time, each shard's worker and interval, whether
  shards on different workers overlapped in time, and where the shards' time went (their own step
  timings from `scoring.runs.stats`).

Every run scores as of the same moment: the scores must be identical (a digest of scoring.lead_scores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "include"), str(ROOT / "bench")]

import score as score_bench  # noqa: E402  (bench/score.py: the synthetic warehouse and the in-process run)

from smarketing.warehouse.connection import connect, drop_database, redact_dsn  # noqa: E402
from tests.cluster.topology import Cluster, claim_redis_db  # noqa: E402

DIGEST = """
SELECT md5(string_agg(concat_ws('|', lead_id, fit, engagement, total, grade, is_mql, profile_id), ','
                      ORDER BY lead_id)), count(*)
FROM scoring.lead_scores
"""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def digest(dsn: str) -> dict:
    with connect(dsn) as conn:
        value, rows = conn.execute(DIGEST).fetchone()
    return {"md5": value, "rows": rows}


def shard_steps(dsn: str, run_id: str) -> dict[str, float]:
    """Seconds by step summed over the run's shards, as the shards timed themselves."""
    with connect(dsn) as conn:
        (stats,) = conn.execute("SELECT stats FROM scoring.runs WHERE run_id = %s", (run_id,)).fetchone()
    shards = [v for k, v in stats.items() if k.startswith("shard_") and isinstance(v, dict)]
    steps = sorted({step for s in shards for step in s.get("seconds", {})})
    return {step: round(sum(s["seconds"].get(step, 0) for s in shards), 2) for step in steps}


def overlap(intervals: list[tuple[str, float, float]]) -> dict:
    """Seconds during which shards of two different workers ran at once, and the longest such pair."""
    best, total = 0.0, 0.0
    for i, (host_a, start_a, end_a) in enumerate(intervals):
        for host_b, start_b, end_b in intervals[i + 1 :]:
            if host_a != host_b:
                shared = max(0.0, min(end_a, end_b) - max(start_a, start_b))
                best, total = max(best, shared), total + shared
    return {"cross_worker_seconds": round(total, 2), "longest_pair_seconds": round(best, 2)}


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def on_cluster(dsn: str, workers: int, args: argparse.Namespace) -> dict:
    tag = uuid.uuid4().hex[:8]
    home = Path(tempfile.mkdtemp(prefix=f"smk-bench-cluster-{workers}-"))
    redis_db, broker_lock = claim_redis_db()  # never the broker database of a test session's deployment
    cluster = Cluster(
        home,
        port=args.port,
        metadata_db=f"smk_cluster_bench_{tag}",
        redis_db=redis_db,
        broker_lock=broker_lock,
        warehouse_dsn=dsn,
        workers=workers,
        extra_env={
            "SMARKETING_TASK_RETRIES": "0",
            "CLUSTER_WORKER_CONCURRENCY": str(args.concurrency),
            # Only the run we trigger: no scheduled interval, no asset-triggered nurturing or KPIs.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        },
    )
    cluster.prepare(fresh=True)
    try:
        cluster.up()
        conf = {"full_rescore": True, "shards": args.shards, "as_of": score_bench.END.isoformat()}
        started = time.perf_counter()
        run_id = cluster.trigger("smarketing_scoring", conf)
        state = cluster.wait_run("smarketing_scoring", run_id, timeout=args.timeout)
        wall = time.perf_counter() - started
        if state != "success":
            raise RuntimeError(
                f"scoring on {workers} worker(s) ended {state}: {cluster.failures('smarketing_scoring', run_id)}"
            )
        tis = [
            t for t in cluster.task_instances("smarketing_scoring", run_id) if t["task_id"] == "score_shard"
        ]
        intervals = sorted((t["hostname"], seconds(t["start_date"]), seconds(t["end_date"])) for t in tis)
        origin = min(start for _, start, _ in intervals)
        return {
            "seconds": round(wall, 2),
            "shards": [
                {"worker": host, "start": round(start - origin, 2), "end": round(end - origin, 2)}
                for host, start, end in intervals
            ],
            "workers_used": sorted({host for host, _, _ in intervals}),
            "shard_seconds": round(sum(end - start for _, start, end in intervals), 2),
            "overlap": overlap(intervals),
            "shard_steps": shard_steps(dsn, run_id),
            "scores": digest(dsn),
        }
    finally:
        cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2, help="Task slots per worker.")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    out: dict = {
        "leads": args.leads,
        "events": args.events,
        "shards": args.shards,
        "concurrency_per_worker": args.concurrency,
        "cpus": os.cpu_count(),
    }
    log(f"building {args.leads} leads / {args.events} events")
    started = time.perf_counter()
    dsn = score_bench.build(args.leads, args.events)
    out["generate_seconds"] = round(time.perf_counter() - started, 1)
    try:
        log("in-process full rescore (baseline)")
        baseline = score_bench.run_child(
            dsn, as_of=score_bench.END, full=True, shards=args.shards, run_id="bench-in-process"
        )
        out["in_process"] = {
            "seconds": baseline["seconds"],
            "seconds_by_step": baseline["seconds_by_step"],
            "scores": digest(dsn),
        }
        for workers in (1, 2):
            log(f"full rescore on {workers} worker(s)")
            out[f"workers_{workers}"] = on_cluster(dsn, workers, args)
        one, two = out["workers_1"], out["workers_2"]
        out["two_over_one_worker"] = round(two["seconds"] / one["seconds"], 3)
        out["one_worker_over_in_process"] = round(one["seconds"] / baseline["seconds"], 3)
        out["scores_identical"] = one["scores"] == two["scores"] == out["in_process"]["scores"]
        out["shards_overlap_across_workers"] = two["overlap"]["longest_pair_seconds"] > 0
    finally:
        if args.keep:
            out["dsn"] = redact_dsn(dsn)
        else:
            drop_database(dsn)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
