"""
### smarketing_kpi — the KPI tables the teams review every month

Runs when new data reaches the warehouse (the `smarketing_core`, `smarketing_lead_scores` and
`smarketing_nurture` assets) and daily at 04:00 whatever happened, so open cohorts close and goals move
on with the calendar. One task, **build_kpis**, runs the SQL models of `sql/kpi/` (one per table, see
docs/kpi.md) for the periods touched by new or late data since each table's watermark (`ops.kpi_state`):
a late event in a closed month reopens that month. Each table and run of touched months is rewritten in
one transaction with its watermark; **publish_kpis** then emits the `smarketing_kpi` asset (extra: periods
rewritten per table), skipped with no event when nothing was rewritten. No DAG is scheduled on it:
`smarketing_review` runs monthly and builds the closed month itself.

Tables: funnel_daily, funnel_monthly, conversion_cohorts, velocity_monthly, attribution_monthly,
sla_compliance_monthly, marketing_delivery_monthly, engagement_monthly, score_quality_monthly,
nurture_monthly (empty until the nurture ledger exists), data_quality_daily, goals_progress — readable by
the `kpi_reader` role.

**Params**: `full` rewrites every period of every table; `from` also rewrites every month from that day
on (after a change the watermarks cannot see, such as a new cohort horizon); `as_of` measures at another
moment (ISO 8601).

**Moment**: the `as_of` param; else, for a run triggered by hand (Trigger in the UI) or by an asset, the
moment it was triggered (so a manual run at 11:40 measures what landed up to 11:40); else, for the
daily run, the end of its data interval (04:00).

**Rerun** freely: a model depends only on the warehouse and the run's moment, which a cleared run keeps
(a triggered run's `run_after` never changes), so a rerun writes byte-identical tables. The same build
by hand: `smarketing kpi build [--full] [--from D]`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, Param, dag, get_current_context, task

from smarketing.airflow_support import (
    CORE_ASSET,
    DEFAULT_ARGS,
    KPI_ASSET,
    LEAD_SCORES_ASSET,
    NURTURE_ASSET,
    nightly,
    preflight,
    run_moment,
    task_dsn,
)


@dag(
    dag_id="smarketing_kpi",
    schedule=AssetOrTimeSchedule(
        timetable=nightly(hour=4), assets=(CORE_ASSET | LEAD_SCORES_ASSET | NURTURE_ASSET)
    ),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "kpi", "daily"],
    doc_md=__doc__,
    params={
        "full": Param(False, type="boolean", description="Rewrite every period of every KPI table."),
        "from": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Also rewrite every month from this day (YYYY-MM-DD) on.",
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            description="Measure as of this moment (ISO 8601, e.g. 2026-12-07T09:00:00+00:00). Empty: a run "
            "triggered here measures as of the moment it is triggered; the daily run as of 04:00, the end "
            "of its interval.",
        ),
    },
)
def smarketing_kpi() -> None:
    @task
    def build_kpis() -> dict:
        """Rewrite the KPI periods touched since each table's watermark; one summary line in the log."""
        from datetime import date

        from smarketing.config import load_config
        from smarketing.kpi.build import build_kpis as build
        from smarketing.kpi.settings import settings_from_agreement

        context = get_current_context()
        params = context["params"]
        summary = build(
            task_dsn(),
            settings_from_agreement(load_config()),
            as_of=run_moment(context),
            full=bool(params.get("full")),
            from_day=date.fromisoformat(params["from"]) if params.get("from") else None,
        )
        return summary

    @task(outlets=[KPI_ASSET])
    def publish_kpis(summary: dict) -> dict:
        """The `smarketing_kpi` asset event with the periods rewritten per table; skipped, with no
        event, when no period was rewritten."""
        from airflow.sdk.exceptions import AirflowSkipException

        periods = {name: t["periods"] for name, t in summary["tables"].items() if t["periods"]}
        if not periods:
            raise AirflowSkipException("no KPI period rewritten: no smarketing_kpi event")
        extra = {"as_of": summary["as_of"], "periods": periods}
        get_current_context()["outlet_events"][KPI_ASSET].extra = extra
        return extra

    ready = preflight()
    built = build_kpis()
    ready >> built
    publish_kpis(built)


smarketing_kpi()
