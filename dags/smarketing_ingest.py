"""
### smarketing_ingest — land source data, build the core model

Hourly. For the hour that just ended: checks the agreement (`config/smarketing.yaml`), migrates the
warehouse if a new version shipped, lands every configured file-export source into `raw.*` (one mapped
task per source; a file already landed is skipped), pulls every configured API source incrementally
(one mapped task per source and object, labelled `hubspot/contacts`, `mautic/activity`, ...), then
validates the new raw batches (Great Expectations: bad records to `dq.quarantine`, a batch with a critical
failure rejected and the run stopped here), folds the accepted records into `core.*`, validates the core
tables, and — when this run changed something in core — emits the `smarketing_core` asset (its extra
holds the rows per core table), which starts `smarketing_kpi`; a run that changed nothing shows
`publish_core` as skipped and starts nothing. Scoring runs nightly on the whole of core. A failed
validation says in its log what failed and how many rows, with the Data Docs link (docs/quality.md).

**File sources**: the `file_sources` param of a manual run, else the Airflow Variable
`smarketing_file_sources`, else the `SMARKETING_FILE_SOURCES` environment variable — a JSON list of
`{"mapping": "config/sources/<file>.yaml", "root": "<directory of the exports>"}`.

**API sources**: the `api_sources` param, else the Variable `smarketing_api_sources`, else
`SMARKETING_API_SOURCES` — a JSON list like `[{"system": "hubspot", "objects": ["contacts", "deals"]},
{"system": "mautic"}]`. Credentials come from the connections `smarketing_hubspot` (host = API base URL,
password = private-app token) and `smarketing_mautic` (login / password, or OAuth2 client credentials in
extra). None configured: only file sources run (`extract_api_object` shows as skipped). **No source
of either kind configured**: `list_api_objects` fails at once and says where to configure one (a run
that went green having landed nothing would hide the problem). `make airflow` configures the sandbox's
(README).

**Backfill** an API source with the `backfill_since` param (a date): everything modified since then is
read again; what raw already holds is not landed twice.

**Rerun** any run freely: landing is idempotent per file, an API pull resumes from its watermark (which
commits with the rows it covers), and the core build folds each batch once. See docs/extract.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import (
    API_SOURCE_SCHEMA,
    CORE_ASSET,
    DEFAULT_ARGS,
    FILE_SOURCE_SCHEMA,
    configured_api_sources,
    configured_file_sources,
    deadline,
    hourly,
    object_list_param,
    preflight,
    task_dsn,
)

NO_SOURCE = (
    "no source configured, nothing to ingest: set the Airflow Variable smarketing_api_sources (or "
    "smarketing_file_sources), the api_sources / file_sources param of this run, or the environment "
    "variables SMARKETING_API_SOURCES / SMARKETING_FILE_SOURCES (docs/extract.md); `make airflow` "
    "configures the sandbox's when no real source is configured"
)


def file_sources_of_run() -> list[dict]:
    """The file sources of this run: its param, else the Variable, else the environment."""
    return configured_file_sources(get_current_context()["params"].get("file_sources"))


def api_sources_of_run() -> list[dict]:
    """The API sources of this run: its param, else the Variable, else the environment."""
    return configured_api_sources(get_current_context()["params"].get("api_sources"))


# API objects pulled at once in a run; each task gets this share of a source's rate limit, so
# parallel tasks of one account stay under its limit together.
API_PARALLEL_TASKS = 2


@dag(
    dag_id="smarketing_ingest",
    schedule=hourly(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    # Alerts when the run is not finished 45 minutes after its interval ends (see docs/operations.md).
    deadline=deadline(
        "warehouse fresh",
        period=timedelta(hours=1),
        env="SMARKETING_INGEST_DEADLINE_MINUTES",
        default_minutes=45,
    ),
    tags=["smarketing", "ingest", "hourly"],
    doc_md=__doc__,
    params={
        "file_sources": object_list_param(
            FILE_SOURCE_SCHEMA,
            'File sources for this run, a JSON list: [{"mapping": "config/sources/x.yaml", "root": "/data/x"}]. '
            "Empty: the Variable smarketing_file_sources.",
        ),
        "api_sources": object_list_param(
            API_SOURCE_SCHEMA,
            'API sources for this run, a JSON list: [{"system": "hubspot", "objects": ["contacts"]}, {"system": "mautic"}]. '
            "Empty: the Variable smarketing_api_sources.",
        ),
        "backfill_since": Param(
            None,
            type=["null", "string"],
            description="Backfill the API sources: re-read everything modified since this date (UTC), e.g. 2026-10-01",
        ),
    },
)
def smarketing_ingest() -> None:
    @task
    def list_file_sources() -> list[dict]:
        return file_sources_of_run()

    @task(max_active_tis_per_dagrun=2, map_index_template="{{ task.op_kwargs['source']['mapping'] }}")
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

    @task
    def list_api_objects() -> list[dict]:
        """One entry per source and object; fails (no retry) when no source of either kind is configured."""
        from smarketing.sources.extract import api_tasks

        tasks = api_tasks(api_sources_of_run())
        if not tasks and not file_sources_of_run():
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(NO_SOURCE)
        return tasks

    @task(
        max_active_tis_per_dagrun=API_PARALLEL_TASKS,
        map_index_template="{{ task.op_kwargs['api_object']['system'] }}/{{ task.op_kwargs['api_object']['object'] }}",
    )
    def extract_api_object(api_object: dict) -> dict:
        from smarketing.sources.extract import extract_task

        context = get_current_context()
        return extract_task(
            api_object,
            dsn=task_dsn(),
            since=context["params"].get("backfill_since"),
            run_id=context["run_id"],
            limit_share=1 / API_PARALLEL_TASKS,
        )

    # A source kind with nothing configured maps to zero tasks (skipped): validation still runs.
    # A failed gate fails this task without retrying; the build and the asset then do not happen.
    @task(trigger_rule="none_failed")
    def validate_raw(landed: list[dict[str, int]], extracted: list[dict]) -> dict:
        from smarketing.quality.tasks import validate_raw as validate

        return validate(task_dsn(), get_current_context()["run_id"])

    @task
    def build_core(validated: dict) -> dict[str, int]:
        from smarketing.config import load_config
        from smarketing.warehouse.core_build import build_core as build

        return build(task_dsn(), load_config(), validated_only=True)

    @task
    def validate_core(core: dict[str, int]) -> dict:
        from smarketing.quality.tasks import validate_core as validate

        return validate(task_dsn(), get_current_context()["run_id"])

    @task(outlets=[CORE_ASSET])
    def publish_core(core: dict[str, int], report: dict) -> dict[str, int]:
        """The `smarketing_core` asset event, with the rows each core table received; skipped (no
        event, so nothing downstream starts) when this run changed nothing in core."""
        from airflow.sdk.exceptions import AirflowSkipException

        changed = {table: rows for table, rows in core.items() if rows}
        if not changed:
            raise AirflowSkipException("core unchanged (no new or changed records): no smarketing_core event")
        get_current_context()["outlet_events"][CORE_ASSET].extra = {
            "rows": changed,
            "data_docs": report["data_docs"].get("index"),
        }
        return changed

    ready = preflight()
    sources = list_file_sources()
    api_objects = list_api_objects()
    ready >> sources
    ready >> api_objects
    landed = validate_raw(
        land_file_source.expand(source=sources), extract_api_object.expand(api_object=api_objects)
    )
    core = build_core(landed)
    publish_core(core, validate_core(core))


smarketing_ingest()
