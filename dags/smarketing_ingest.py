"""
### smarketing_ingest — land source data, build the core model

Hourly. For the hour that just ended: checks the agreement (`config/smarketing.yaml`), migrates the
warehouse if a new version shipped, lands every configured file-export source into `raw.*` (one mapped
task per source; a file already landed is skipped), then folds the new raw batches into `core.*` and
emits the `smarketing_core` asset with the row counts, which starts scoring, nurturing and KPIs.

**Sources**: the `file_sources` param of a manual run, else the Airflow Variable
`smarketing_file_sources`, else the `SMARKETING_FILE_SOURCES` environment variable — a JSON list of
`{"mapping": "config/sources/<file>.yaml", "root": "<directory of the exports>"}`.

**Rerun** any run freely: landing is idempotent per file and the core build per batch.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import CORE_ASSET, DEFAULT_ARGS, configured_file_sources, hourly, task_dsn


@dag(
    dag_id="smarketing_ingest",
    schedule=hourly(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "ingest", "hourly"],
    doc_md=__doc__,
    params={
        "file_sources": Param(
            None,
            type=["null", "array"],
            description='File sources for this run: [{"mapping": "config/sources/x.yaml", "root": "/data/x"}]',
        ),
    },
)
def smarketing_ingest() -> None:
    @task
    def check_agreement() -> str:
        from smarketing.airflow_support import fail_on_config_error

        return fail_on_config_error()

    @task
    def prepare_warehouse() -> str:
        from smarketing.warehouse import migrate

        dsn = task_dsn()
        migrate.upgrade(dsn)
        return migrate.current_revision(dsn) or ""

    @task
    def list_file_sources() -> list[dict]:
        return configured_file_sources(get_current_context()["params"].get("file_sources"))

    @task(max_active_tis_per_dagrun=2)
    def land_file_source(source: dict) -> dict[str, int]:
        from smarketing.airflow_support import resolve_project_path
        from smarketing.sources.files import ingest_source

        root = source.get("root")
        return ingest_source(
            task_dsn(),
            resolve_project_path(source["mapping"]),
            root=resolve_project_path(root) if root else None,
            run_id=get_current_context()["run_id"],
        )

    @task(outlets=[CORE_ASSET])
    def build_core(landed: list[dict[str, int]]) -> dict[str, int]:
        from smarketing.config import load_config
        from smarketing.warehouse.core_build import build_core as build

        stats = build(task_dsn(), load_config())
        context = get_current_context()
        context["outlet_events"][CORE_ASSET].extra = {"landed": landed, "core": stats}
        return stats

    ready = [check_agreement(), prepare_warehouse()]
    sources = list_file_sources()
    ready >> sources
    build_core(land_file_source.expand(source=sources))


smarketing_ingest()
