"""Benchmark: landing a large event export with `ingest_source` vs a plain `psql \\copy` of the same rows.

Generates N marketing-tool events (numpy), writes them as a CSV export, lands it through the
file-export source into a scratch warehouse, then loads the very rows it landed (same payloads) with
`psql \\copy` into a table of the same shape (same columns and indexes). Prints JSON:

    {"rows": ..., "ours_s": ..., "ours_rows_per_s": ..., "psql_copy_s": ..., "ratio": ...}

`ratio` = ours_s / psql_copy_s: what reading, checking, mapping and JSON-building the export costs on top
of the bare load. Usage: `.venv/bin/python bench/ingest.py --rows 1000000`. The scratch database and
files are removed at the end.
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
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from smarketing.sources.files import ingest_source
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, redact_dsn, with_database

SERVER_DSN = os.environ.get("SMARKETING_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
EVENT_TYPES = np.array(
    [
        "email.sent",
        "email.read",
        "email.clicked",
        "page.hit",
        "form.submitted",
        "asset.download",
        "webinar.registered",
        "dnc.unsubscribed",
    ]
)
EVENT_WEIGHTS = np.array([0.40, 0.12, 0.04, 0.38, 0.03, 0.015, 0.01, 0.005])
PAGES = np.array(
    ["/pricing", "/pricing/enterprise", "/blog/data-quality", "/product/integrations", "/careers/jobs"]
)
TOPICS = np.array(["pricing", "security", "integration", "careers", "compliance", ""])

MAPPING = """
source_system: bench_ma
files:
  - object: marketing_events
    path: activity.csv
    id: id
    columns:
      lead_source_id: lead_id
      event_type: type
      occurred_at: timestamp
      campaign_id: campaign_id
      content_topic: topic
    values:
      event_type:
        email.sent: email_sent
        email.read: email_open
        email.clicked: email_click
        page.hit: page_view
        form.submitted: form_submission
        asset.download: content_download
        webinar.registered: webinar_registered
        dnc.unsubscribed: unsubscribe
    rules:
      - when: [{column: type, equals: page.hit}, {column: url, contains: /pricing}]
        set: {event_type: pricing_page_view}
"""


def generate_events(rows: int, seed: int = 7) -> pa.Table:
    """A marketing-tool activity export (the sandbox's ma/activity.csv columns), column-wise."""
    rng = np.random.default_rng(seed)
    kinds = EVENT_TYPES[rng.choice(len(EVENT_TYPES), size=rows, p=EVENT_WEIGHTS)]
    start = np.datetime64("2026-05-01T00:00:00", "s")
    times = np.sort(start + rng.integers(0, 180 * 86_400, size=rows).astype("timedelta64[s]"))
    is_page = kinds == "page.hit"
    is_mail = np.char.startswith(kinds.astype(str), "email.")
    urls = np.where(
        is_page, np.char.add("https://www.sandboxsoft.io", PAGES[rng.integers(0, len(PAGES), rows)]), ""
    )
    campaigns = np.where(is_mail, np.char.add("CMP-", rng.integers(1, 400, rows).astype(str)), "")
    return pa.table(
        {
            "id": pa.array(np.arange(1, rows + 1)).cast(pa.string()),
            "lead_id": pa.array(rng.integers(1, max(rows // 20, 2), rows)).cast(pa.string()),
            "type": pa.array(kinds),
            "timestamp": pa.array(np.char.add(np.datetime_as_string(times, unit="s"), "Z")),
            "campaign_id": pa.array(campaigns),
            "url": pa.array(urls),
            "topic": pa.array(TOPICS[rng.integers(0, len(TOPICS), rows)]),
        }
    )


def _checkpoint(dsn: str) -> None:
    """Start each timed load from a clean WAL state, so one does not pay for the other's checkpoint."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass  # not allowed for this role: the numbers are just noisier


def run(rows: int) -> dict[str, float | int | str]:
    dsn = with_database(SERVER_DSN, f"smk_bench_{uuid.uuid4().hex[:8]}")
    work = Path(tempfile.mkdtemp(prefix="smk_bench_"))
    try:
        migrate.upgrade(dsn)
        pacsv.write_csv(generate_events(rows), work / "activity.csv")
        (work / "mapping.yaml").write_text(MAPPING, encoding="utf-8")

        _checkpoint(dsn)
        started = time.perf_counter()
        landed = ingest_source(dsn, work / "mapping.yaml", root=work, run_id="bench")
        ours = time.perf_counter() - started
        if landed["marketing_events"] != rows:
            raise RuntimeError(f"landed {landed} instead of {rows} rows")

        # The same rows, as COPY text, into a table of the same shape (columns and indexes).
        dump = work / "landed.copy"
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE TABLE public.bench_copy (LIKE raw.marketing_events INCLUDING ALL)")
            conn.commit()
            with dump.open("wb") as out, conn.cursor().copy("COPY raw.marketing_events TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
        _checkpoint(dsn)
        started = time.perf_counter()
        subprocess.run(
            ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", "-c", f"\\copy public.bench_copy FROM '{dump}'"],
            check=True,
        )
        baseline = time.perf_counter() - started
        return {
            "rows": rows,
            "csv_mb": round((work / "activity.csv").stat().st_size / 1e6, 1),
            "ours_s": round(ours, 2),
            "ours_rows_per_s": round(rows / ours),
            "psql_copy_s": round(baseline, 2),
            "ratio": round(ours / baseline, 2),
            "warehouse": redact_dsn(dsn),
        }
    finally:
        drop_database(dsn)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events to generate (default 1,000,000)")
    args = parser.parse_args()
    print(json.dumps(run(args.rows)))


if __name__ == "__main__":
    main()
