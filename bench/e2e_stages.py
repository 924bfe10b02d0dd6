"""Stages of bench/e2e.py (each run in a child process) and the floor each one is measured against."""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import time
from collections import deque
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import cpu_meter
import e2e_floors as floors
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

MAPPINGS = ("sandbox_crm.yaml", "sandbox_ma.yaml")
RUN_ID = "e2e"
# Each core build step: the raw object it reads and the core tables it writes.
STEP_TABLES = {
    "010_owners": ("owners", ("core.owners",)),
    "020_companies": ("companies", ("core.companies", "core.company_sources")),
    "030_leads": ("leads", ("core.leads", "core.lead_sources", "core.lead_merges")),
    "040_marketing_events": ("marketing_events", ("core.marketing_events",)),
    "045_segment_memberships": ("segment_memberships", ("core.segment_memberships",)),
    "050_sales_activities": ("sales_activities", ("core.sales_activities",)),
    "060_deals": ("deals", ("core.deals",)),
    "070_lifecycle_history": ("lifecycle_history", ("core.lifecycle_history",)),
}
# Steps that continue another (the leads merge is written by a second file, after persona matching).
STEP_PARTS = {"035_leads_merge": "030_leads"}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def world_end(world: Path) -> datetime:
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(meta["parameters"]["end"].replace("Z", "+00:00"))


def world_rows(world: Path) -> dict[str, int]:
    return json.loads((world / "world.json").read_text(encoding="utf-8"))["rows"]


# -- stages (child side) ------------------------------------------------------------------------------
def child(args: argparse.Namespace) -> dict:
    """Run the stage `args.child`; seconds, this process's CPU seconds (with its waited-for children's),
    peak memory and what the stage returned.

    The stage's modules (STAGE_IMPORTS) are imported before its timer starts, and their cost is reported
    apart (`imports_s`, `imports_cpu_s`): a floor runs in the parent, whose modules are loaded before any
    floor is timed, so counting the child's imports would hold the stage to something its floor never
    pays. What the stage does once loaded (reading the agreement, Great Expectations' context, every
    library call) stays the stage's."""
    run = CHILD_STAGES[args.child]
    cpu, started = cpu_meter.client_process(), time.perf_counter()
    _start_up(args.child)
    imports_s, imports_cpu = time.perf_counter() - started, cpu_meter.client_process() - cpu
    cpu, started = cpu_meter.client_process(), time.perf_counter()
    result = run(args)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "client_cpu_s": round(cpu_meter.client_process() - cpu, 3),
        "imports_s": round(imports_s, 3),
        "imports_cpu_s": round(imports_cpu, 3),
        "peak_rss_mib": peak_rss_mib(),
        "result": result,
    }


def _generate(args: argparse.Namespace) -> dict:
    from smarketing_sandbox.world import DEFAULT_END, generate_world

    return generate_world(
        Path(args.world), contacts=args.contacts, seed=7, days=int(args.days), end=DEFAULT_END
    )


def _land(args: argparse.Namespace) -> dict:
    from smarketing.paths import CONFIG_DIR
    from smarketing.sources.files import ingest_source

    world, landed = Path(args.world), {}
    for mapping in MAPPINGS:
        if mapping == "sandbox_crm.yaml" and not (world / "crm").exists():
            continue  # an hourly delta holds only the marketing tool's export
        for obj, n in ingest_source(
            args.dsn, CONFIG_DIR / "sources" / mapping, root=world, run_id=_run(args)
        ).items():
            landed[obj] = landed.get(obj, 0) + n
    return landed


def _validate(args: argparse.Namespace) -> dict:
    from smarketing.paths import CONFIG_DIR
    from smarketing.quality.raw import validate_raw
    from smarketing.quality.settings import load_settings

    work = Path(args.work)
    docs = {"enabled": True, "dir": str(work / "docs"), "project_dir": str(work / "gx")}
    settings = load_settings(CONFIG_DIR / "quality.yaml", {"data_docs": docs})
    report = validate_raw(args.dsn, run_id=_run(args), settings=settings, raise_on_failure=False)
    return {
        "rows_checked": report.rows_checked,
        "rows_quarantined": report.rows_quarantined,
        "gate_passed": report.success,
        "failures": report.failures[:5],
        "timings": report.timings,
    }


def _core(args: argparse.Namespace) -> dict:
    from smarketing.config import load_config
    from smarketing.warehouse.core_build import build_core

    timings: dict[str, float] = {}
    stats = build_core(args.dsn, load_config(), validated_only=True, timings=timings)
    return {"stats": stats, "timings": timings}


def _score(args: argparse.Namespace) -> dict:
    from smarketing.scoring.model import load_model
    from smarketing.scoring.runner import run_scoring

    result = run_scoring(
        args.dsn,
        load_model(),
        run_id=RUN_ID,
        as_of=datetime.fromisoformat(args.as_of),
        full=True,
        shard_count=4,
    )
    shards = result["shards"]
    return {
        "leads": result["leads"],
        "contributions": sum(s["contributions"] for s in shards),
        "seconds_by_step": {
            step: round(sum(s["seconds"].get(step, 0) for s in shards), 2)
            for step in sorted({k for s in shards for k in s["seconds"]})
        },
    }


def _sla_settings():
    from smarketing.config import load_config
    from smarketing.sla.settings import settings_from_agreement

    settings = settings_from_agreement(load_config())
    return replace(settings, alerts=replace(settings.alerts, team_to=None, marketing_to=None))


def _sla(args: argparse.Namespace) -> dict:
    from smarketing.sla.run import evaluate_followups

    timings: dict[str, float] = {}
    summary = evaluate_followups(
        args.dsn, _sla_settings(), datetime.fromisoformat(args.as_of), timings=timings
    )
    return {"summary": summary, "timings": timings}


def _nurture(args: argparse.Namespace) -> dict:
    from smarketing.config import load_config
    from smarketing.nurture.plan import plan_run

    result = plan_run(args.dsn, load_config(), run_id=RUN_ID, as_of=datetime.fromisoformat(args.as_of))
    return {k: v for k, v in result.to_dict().items() if k in ("entries", "exits", "blocked")}


def _kpi(args: argparse.Namespace) -> dict:
    from smarketing.config import load_config
    from smarketing.kpi.build import build_kpis
    from smarketing.kpi.settings import settings_from_agreement

    summary = build_kpis(args.dsn, settings_from_agreement(load_config()), as_of=args.as_of, full=True)
    return {
        "staging_seconds": summary["staging_seconds"],
        "tables": {k: v["seconds"] for k, v in summary["tables"].items()},
    }


def _api(args: argparse.Namespace) -> dict:
    import uuid

    from extract import bench_rate

    from smarketing.warehouse import migrate
    from smarketing.warehouse.connection import drop_database, with_database
    from smarketing_sandbox.world import DEFAULT_END, generate_world

    world = Path(args.work) / "api-world"
    generate_world(world, contacts=args.contacts, seed=7, days=int(args.days), end=DEFAULT_END)
    dsn = with_database(args.dsn, f"smk_bench_e2e_api_{uuid.uuid4().hex[:8]}")
    try:
        migrate.upgrade(dsn)
        return bench_rate(dsn, world, rate=int(args.rate), threads=3)
    finally:
        drop_database(dsn)


def _run(args: argparse.Namespace) -> str:
    return args.run_id or RUN_ID


def _start_up(stage: str) -> None:
    """Load what the stage's process loads once: its modules, and the agreement's first parse (which builds
    its validators and compiles its patterns: 0.06 s of CPU against 0.02 s for a later parse, such as
    the parent's floors make)."""
    for module in STAGE_IMPORTS.get(stage, ()):
        importlib.import_module(module)
    if "smarketing.config" in STAGE_IMPORTS.get(stage, ()):
        from smarketing.config import load_config

        load_config()


# The modules each stage's function imports (loaded before its timer starts: see `child`).
STAGE_IMPORTS = {
    "land": ("smarketing.paths", "smarketing.sources.files"),
    "validate": ("smarketing.paths", "smarketing.quality.raw", "smarketing.quality.settings"),
    "core": ("smarketing.config", "smarketing.warehouse.core_build"),
    "score": ("smarketing.scoring.model", "smarketing.scoring.runner"),
    "sla": ("smarketing.config", "smarketing.sla.settings", "smarketing.sla.run"),
    "nurture": ("smarketing.config", "smarketing.nurture.plan"),
    "kpi": ("smarketing.config", "smarketing.kpi.build", "smarketing.kpi.settings"),
}
CHILD_STAGES = {
    "generate": _generate,
    "land": _land,
    "validate": _validate,
    "core": _core,
    "score": _score,
    "sla": _sla,
    "nurture": _nurture,
    "kpi": _kpi,
    "api": _api,
}


# -- floors (parent side) -----------------------------------------------------------------------------
def _batches(run_id: str) -> sql.Composable:
    return sql.SQL("(SELECT batch_id FROM ops.load_batches WHERE run_id = {})").format(sql.Literal(run_id))


def _raw_rows(dsn: str, run_id: str) -> dict[str, sql.Composable]:
    """Per raw object the run landed rows of: those rows."""
    from smarketing.warehouse.connection import connect

    with connect(dsn) as conn:
        objects = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT object FROM ops.load_batches WHERE run_id = %s AND row_count > 0 ORDER BY 1",
                (run_id,),
            ).fetchall()
        ]
    return {
        f"raw.{o}": sql.SQL("SELECT * FROM raw.{} WHERE batch_id IN {}").format(
            sql.Identifier(o), _batches(run_id)
        )
        for o in objects
    }


def floor_land(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    queries = _raw_rows(dsn, run_id)
    written = floors.write_in(dsn, {k: (k, q) for k, q in queries.items()}, work)
    return {"seconds": floors.total([written]), "cpu_s": floors.total_cpu([written]), "write": written}


def floor_validate(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    read = floors.read_out(dsn, _raw_rows(dsn, run_id))
    return {"seconds": floors.total([read]), "cpu_s": floors.total_cpu([read]), "read": read}


def _core_rows(run_id: str) -> dict[str, tuple[str, sql.Composable]]:
    """Core rows the build wrote: whole tables on a first load; on an increment, the rows of the
    leads and events the run's batches carried."""
    tables = sorted({t for _, ts in STEP_TABLES.values() for t in ts})
    if run_id == RUN_ID:
        return {t: (t, sql.SQL("SELECT * FROM {}").format(sql.Identifier(*t.split(".")))) for t in tables}
    batches = _batches(run_id)
    sources = sql.SQL(
        "SELECT ls.lead_id FROM core.lead_sources ls JOIN raw.leads r USING (source_system, source_id) "
        "WHERE r.batch_id IN {}"
    ).format(batches)
    return {
        "core.marketing_events": (
            "core.marketing_events",
            sql.SQL(
                "SELECT * FROM core.marketing_events WHERE event_id IN "
                "(SELECT source_system || ':' || source_id FROM raw.marketing_events WHERE batch_id IN {})"
            ).format(batches),
        ),
        "core.leads": (
            "core.leads",
            sql.SQL("SELECT * FROM core.leads WHERE lead_id IN ({})").format(sources),
        ),
        "core.lead_sources": (
            "core.lead_sources",
            sql.SQL("SELECT * FROM core.lead_sources WHERE lead_id IN ({})").format(sources),
        ),
    }


def floor_core(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    read = floors.read_out(dsn, _raw_rows(dsn, run_id))
    written = floors.write_in(dsn, _core_rows(run_id), work)
    return {
        "seconds": floors.total([read, written]),
        "cpu_s": floors.total_cpu([read, written]),
        "read": read,
        "write": written,
    }


def step_ratios(timings: dict[str, float], floor: dict, by_statement: dict[str, float] | None = None) -> dict:
    """Each core build step against the COPY out of its raw object and the COPY in of its core tables
    (a step written in two files, STEP_PARTS, counted as one). With the stage's server CPU by statement
    (cpu_meter: a step runs as one statement, keyed by its file's first line), each step's CPU too."""
    from smarketing.paths import CORE_SQL_DIR

    steps: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for step, seconds in timings.items():
        whole = STEP_PARTS.get(step, step)
        steps[whole] = round(steps.get(whole, 0.0) + seconds, 3)
        path = CORE_SQL_DIR / f"{step}.sql"
        if by_statement is not None and path.exists():
            head = path.read_text(encoding="utf-8").lstrip().split("\n", 1)[0][: cpu_meter.HEAD]
            cpu[whole] = round(cpu.get(whole, 0.0) + by_statement.get(head, 0.0), 3)
    out = {}
    for step, seconds in steps.items():
        obj, tables = STEP_TABLES.get(step, (None, ()))
        parts = [p for p in [floor["read"].get(f"raw.{obj}")] + [floor["write"].get(t) for t in tables] if p]
        floor_s = round(sum(p["seconds"] for p in parts), 3)
        floor_cpu = floors.total_cpu([dict(enumerate(parts))]) if parts else None
        out[step] = {
            "seconds": seconds,
            "floor_seconds": floor_s,
            "ratio": round(seconds / floor_s, 2) if floor_s else None,
            "cpu_s": cpu.get(step),
            "floor_cpu_s": floor_cpu,
            "cpu_ratio": round(cpu[step] / floor_cpu, 2) if step in cpu and floor_cpu else None,
        }
    return out


def floor_score(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    from score import io_floor

    parts = io_floor(dsn, datetime.fromisoformat(as_of))
    return {"seconds": parts["total"], "cpu_s": floors.total_cpu([parts["timed"]]), **parts}


def _reads_and_writes(dsn: str, work: Path, read: dict, tables: tuple[str, ...], **about: object) -> dict:
    """A floor of reads (already timed into `read`, cpu_meter.span) plus the COPY in of every row of `tables`."""
    written = floors.write_in(dsn, {t: (t, f"SELECT * FROM {t}") for t in tables}, work)
    return {
        "seconds": floors.total([{"read": read}, written]),
        "cpu_s": floors.total_cpu([{"read": read}, written]),
        "read": read,
        **about,
        "write": written,
    }


def floor_sla(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    """The evaluation's reads (bench/sla.py's floor, `store.read_inputs` with the same session settings)
    + COPY in of the `sla.*` rows it wrote. The evaluation read every clock as new; read after it, the
    window would hold only the clocks still running, so the floor reads with `sla.*` emptied again
    (TRUNCATE in its rolled-back transaction, before the timer)."""
    import pandas as pd

    from smarketing.sla.store import read_inputs
    from smarketing.warehouse.connection import connect

    settings, read = _sla_settings(), {}
    with connect(dsn) as conn, conn.transaction(force_rollback=True):
        conn.execute("TRUNCATE sla.followups, sla.breaches, sla.alerts CASCADE")
        with cpu_meter.span(read):
            conn.execute("SET LOCAL work_mem = '256MB'")
            conn.execute("SET LOCAL jit = off")
            clocks = read_inputs(conn, settings, pd.Timestamp(as_of)).window
    tables = ("sla.followups", "sla.breaches", "sla.marketing_delivery")
    return _reads_and_writes(dsn, work, read, tables, clocks=clocks)


def floor_nurture(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    from nurture import copy_read

    from smarketing.config import load_config

    window = load_config().nurturing.interests_within_days
    read: dict = {}
    with cpu_meter.span(read):  # copy_read times its COPYs; the span adds its connection (milliseconds)
        got = copy_read(dsn, window, datetime.fromisoformat(as_of))
    return _reads_and_writes(dsn, work, read, ("nurture.enrollments",), read_bytes=got["bytes"])


def floor_kpi(dsn: str, *, work: Path, as_of: str, measured: dict, run_id: str = RUN_ID) -> dict:
    """Issue #18's floor, as every other stage's: COPY out of every row of the tables a full build reads
    (bench/kpi.py's INPUTS) + COPY in of the KPI rows it wrote. bench/kpi.py's stricter floor (one count(*)
    scan of the same inputs: issue #13's own budget, full rebuild <= 3x it) is measured and kept as `scan`."""
    from kpi import INPUTS, scan_inputs

    from smarketing.kpi.models import MODELS
    from smarketing.warehouse.connection import connect

    with connect(dsn) as conn:  # an input or table of a capability that did not run (a skipped stage)
        present = {
            t
            for t in (*INPUTS, *(m.table for m in MODELS))
            if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0]
        }
    read = floors.read_out(dsn, {t: f"SELECT * FROM {t}" for t in INPUTS if t in present})
    written = floors.write_in(
        dsn, {m.table: (m.table, f"SELECT * FROM {m.table}") for m in MODELS if m.table in present}, work
    )
    scan: dict = {}
    with cpu_meter.span(scan):  # scan_inputs times the same span
        scan_inputs(dsn)
    return {
        "seconds": floors.total([read, written]),
        "cpu_s": floors.total_cpu([read, written]),
        "read": read,
        "write": written,
        "scan": scan,
    }


FLOORS = {
    "land": floor_land,
    "validate": floor_validate,
    "core": floor_core,
    "score": floor_score,
    "sla": floor_sla,
    "nurture": floor_nurture,
    "kpi": floor_kpi,
}


def first_load(measured: dict[str, dict]) -> dict:
    """The pipeline's first load: the sum of its stages against the sum of their floors."""
    done = [s for name, s in measured.items() if not name.startswith("hour_")]
    seconds = round(sum(s["seconds"] for s in done), 1)
    floor_s = round(sum(s["floor_seconds"] for s in done), 1)
    cpus = [(s.get("cpu_s"), s.get("floor_cpu_s")) for s in done]
    cpu = floor_cpu = None
    if cpus and all(c is not None and f is not None for c, f in cpus):
        cpu, floor_cpu = round(sum(c for c, _ in cpus), 1), round(sum(f for _, f in cpus), 1)
    return {
        "seconds": seconds,
        "floor_seconds": floor_s,
        "ratio": round(seconds / floor_s, 2),
        "cpu_s": cpu,
        "floor_cpu_s": floor_cpu,
        "cpu_ratio": round(cpu / floor_cpu, 2) if cpu and floor_cpu else None,
        "stages_over_2x": {n: s["ratio"] for n, s in measured.items() if s["ratio"] and s["ratio"] > 2},
        "stages_over_2x_cpu": {
            n: s["cpu_ratio"] for n, s in measured.items() if s.get("cpu_ratio") and s["cpu_ratio"] > 2
        },
    }


# -- the hourly delta -----------------------------------------------------------------------------------
def make_hourly_delta(world: Path, out: Path) -> dict[str, int]:
    """The hour after the world's end as a marketing-tool delta export: the hour's share of new events
    (copies of the world's last events an hour later, with new ids) and every contact they touch, whose
    modification time moves with its activity (as Mautic's does)."""
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    total, days = meta["rows"]["ma/activity.csv"], meta["parameters"]["days"]
    wanted = max(1, round(total / (days * 24)))
    tail: deque[pa.RecordBatch] = deque()
    kept = 0
    reader = pacsv.open_csv(
        world / "ma" / "activity.csv", convert_options=_as_text(world / "ma" / "activity.csv")
    )
    for batch in reader:  # streamed: only the last `wanted` rows stay in memory
        tail.append(batch)
        kept += batch.num_rows
        while tail and kept - tail[0].num_rows >= wanted:
            kept -= tail.popleft().num_rows
    events = pa.Table.from_batches(list(tail)).slice(max(0, kept - wanted))
    ids = pc.add(events.column("id").cast(pa.int64()), total).cast(pa.string())
    stamps = pc.add(
        pc.strptime(events.column("timestamp"), "%Y-%m-%dT%H:%M:%SZ", "s", error_is_null=False),
        pa.scalar(3600, pa.duration("s")),
    )
    events = events.set_column(0, "id", ids).set_column(
        events.schema.get_field_index("timestamp"), "timestamp", pc.strftime(stamps, "%Y-%m-%dT%H:%M:%SZ")
    )
    contacts = pacsv.read_csv(
        world / "ma" / "contacts.csv", convert_options=_as_text(world / "ma" / "contacts.csv")
    )
    touched = contacts.filter(pc.is_in(contacts.column("id"), pc.unique(events.column("lead_id"))))
    latest = pc.strftime(pc.max(stamps), "%Y-%m-%dT%H:%M:%SZ").as_py()
    for name in ("date_modified", "last_active"):
        touched = touched.set_column(
            touched.schema.get_field_index(name), name, pa.array([latest] * touched.num_rows)
        )
    (out / "ma").mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(events, out / "ma" / "activity.csv")
    pacsv.write_csv(touched, out / "ma" / "contacts.csv")
    (out / "world.json").write_text(
        json.dumps({**meta, "rows": {"ma/activity.csv": events.num_rows}}), encoding="utf-8"
    )
    return {"events": events.num_rows, "contacts": touched.num_rows}


def _as_text(path: Path) -> pacsv.ConvertOptions:
    """Every column read as the text it is (the delta is written back byte for byte)."""
    with path.open(encoding="utf-8") as handle:
        names = handle.readline().rstrip("\n").split(",")
    return pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)


# -- the API path ---------------------------------------------------------------------------------------
def api_path(contacts: int, rate: int, account: int, work: Path, run_child, dsn: str, days: int) -> dict:
    """Pull `contacts` through the sandbox API at `rate` searches/s; extrapolate to `account` contacts."""
    measured = run_child("api", dsn=dsn, work=work, contacts=contacts, days=days, rate=rate)
    got = measured["result"]
    scale = account / contacts
    floor_s = got["search_requests"] / rate
    return {
        "contacts": contacts,
        "rate_limit_per_s": rate,
        "measured": got,
        "seconds": got["elapsed_s"],
        "floor_seconds": round(floor_s, 1),
        "ratio": round(got["elapsed_s"] / floor_s, 2),
        "extrapolated_seconds": round(got["elapsed_s"] * scale),
        "extrapolated_floor_seconds": round(floor_s * scale),
        "peak_rss_mib": measured["peak_rss_mib"],
        "covers": "HubSpot CRM search objects (contacts, companies, engagements, deals) under the search limit",
    }
