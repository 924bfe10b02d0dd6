"""
### smarketing_scoring — score every lead, explain every score, hand MQLs over to sales

Nightly at 02:00, as of the end of its data interval (02:00 that night); a run triggered by hand scores
as of the moment it was triggered, unless its `as_of` param says otherwise. For the agreement's scoring model
(`scoring:` in `config/smarketing.yaml`):

1. **plan** — registers the model (`scoring.models`, `scoring.rules`), chooses a **full rescore** (new
   model version or hash, or the `full_rescore` param) or an **incremental** night, and splits the leads
   into lead-id shards of equal size.
2. **score_shard** (one mapped task per shard, in parallel, labelled `shard 2 of 4 (lead ids 250001–500000)`) — fit points from lead and company fields;
   engagement points from events, faded by the half-life, capped, limited per day, floored. Incremental
   nights rescale yesterday's per-rule state and add only what changed (new events, events leaving the
   window, late or corrected events logged by triggers on `core.marketing_events`); the result equals a
   full rescore. Writes `scoring.lead_scores`, `scoring.contributions` (why each lead has its score),
   `scoring.score_history`, `scoring.mql_crossings` and the MQL stage in `core.lifecycle_history`.
3. **finalize** — account rollup (`scoring.account_scores`), closes the run; **publish_scores** emits the
   `smarketing_lead_scores` asset (extra: run, as-of, mode, counts) that starts `smarketing_nurture` and
   `smarketing_kpi` — skipped, with no event, when no lead's score, grade or MQL state moved.
4. **write_back** — score, grade and MQL stage to the source systems listed in the `writeback` param
   (a JSON list of targets; else the Airflow Variable `smarketing_writeback`, else the `SMARKETING_WRITEBACK` environment
   variable; none: nothing to do), only for records whose values changed, in the APIs' batch shapes.
   **Dry run unless a target says `"dry_run": false`**: batches are recorded in
   `scoring.writeback_batches`, nothing is sent.

**Params**: `full_rescore` rescores every lead from its whole history; `as_of` scores as of another
moment (ISO 8601; an earlier one rewinds the current scores to that date); `shards` overrides the shard
count (else the Variable `smarketing_scoring_shards`, else `SMARKETING_SCORING_SHARDS`, else 4; the
project's one lookup order, `smarketing.run_settings.run_setting`).

**Rerun** freely: each shard replaces its lead-id range in one transaction and a rerun of the same run
writes the same rows. The same run by hand: `smarketing score run [--full] [--as-of D]`.

**Another scoring run in progress** (one started by hand holds the scoring lock): the step fails at once
with "another scoring run is in progress", and its retries (exponential back-off) take it up when that
run is done. It fails rather than skips: a skipped night would show green while the scores stay stale
and the `smarketing_lead_scores` asset is never emitted. A failed step is also marked in
`scoring.runs.stats.failed`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import (
    DEFAULT_ARGS,
    LEAD_SCORES_ASSET,
    WRITEBACK_TARGET_SCHEMA,
    deadline,
    nightly,
    object_list_param,
    object_list_setting,
    preflight,
    run_moment,
    run_setting,
    task_dsn,
)

SHARDS_VARIABLE = "smarketing_scoring_shards"
SHARDS_ENV = "SMARKETING_SCORING_SHARDS"
WRITEBACK_VARIABLE = "smarketing_writeback"
WRITEBACK_ENV = "SMARKETING_WRITEBACK"
DEFAULT_SHARDS = 4


def _shard_label(shard: dict, total: int) -> str:
    """`shard 2 of 4 (lead ids 250001–500000)`; the outer shards are open-ended (they cover every id)."""
    first, last = shard["number"] == 0, shard["number"] == total - 1
    if first and last:
        ids = "all leads"
    elif first:
        ids = f"lead ids up to {shard['high']}"
    elif last:
        ids = f"lead ids from {shard['low']}"
    else:
        ids = f"lead ids {shard['low']}–{shard['high']}"
    return f"shard {shard['number'] + 1} of {total} ({ids})"


@dag(
    dag_id="smarketing_scoring",
    schedule=nightly(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    # Alerts when the run is not finished 180 minutes after its interval ends (see docs/operations.md).
    deadline=deadline(
        "nightly scores ready",
        period=timedelta(days=1),
        env="SMARKETING_SCORING_DEADLINE_MINUTES",
        default_minutes=180,
    ),
    tags=["smarketing", "scoring", "nightly"],
    doc_md=__doc__,
    params={
        "full_rescore": Param(
            False, type="boolean", description="Rescore every lead from its whole history."
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            description="Score as of this moment (ISO 8601, e.g. 2026-12-07T09:00:00+00:00). Empty: a run "
            "triggered here scores as of the moment it is triggered; the nightly run as of 02:00, the end "
            "of the day it covers.",
        ),
        "shards": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=64,
            description="Lead-id shards (parallel tasks).",
        ),
        "writeback": object_list_param(
            WRITEBACK_TARGET_SCHEMA,
            'Write-back targets, a JSON list: [{"system": "hubspot", "api": "hubspot", "dry_run": true}]. '
            "Empty: the Variable smarketing_writeback.",
        ),
    },
)
def smarketing_scoring() -> None:
    @task
    def plan() -> dict:
        from smarketing.scoring.model import load_model
        from smarketing.scoring.runner import plan_run

        context = get_current_context()
        params = context["params"]
        moment = run_moment(context)
        shards = run_setting(params.get("shards"), SHARDS_VARIABLE, SHARDS_ENV, str(DEFAULT_SHARDS))
        run = plan_run(
            task_dsn(),
            load_model(),
            run_id=context["run_id"],
            as_of=pendulum.parse(str(moment)),
            full=bool(params.get("full_rescore")),
            shard_count=int(shards),
        )
        return run.to_dict()

    @task
    def shard_list(run: dict) -> list[dict]:
        """One entry per lead-id shard, with the label the UI shows for its task."""
        total = len(run["shards"])
        return [{"number": shard["number"], "label": _shard_label(shard, total)} for shard in run["shards"]]

    @task(max_active_tis_per_dagrun=4, map_index_template="{{ task.op_kwargs['shard']['label'] }}")
    def score_shard(run: dict, shard: dict) -> dict:
        from smarketing.scoring.model import load_model
        from smarketing.scoring.runner import RunPlan, score_shard

        return score_shard(task_dsn(), load_model(), RunPlan.from_dict(run), shard["number"])

    @task
    def finalize(run: dict, shards: list[dict]) -> dict:
        from smarketing.scoring.model import load_model
        from smarketing.scoring.runner import RunPlan, finalize_run

        summary = finalize_run(task_dsn(), load_model(), RunPlan.from_dict(run))
        # Scores, grades or MQL states that moved (fading included) since the run before, and history
        # snapshots (re)written, e.g. by a rerun of the day: over all shards.
        moved = sum(int(s.get("score_moves", 0)) + int(s.get("history_rows", 0)) for s in shards)
        return summary | {"changed": moved}

    @task(outlets=[LEAD_SCORES_ASSET])
    def publish_scores(run: dict, summary: dict) -> dict:
        """The `smarketing_lead_scores` asset event (it starts nurturing and the KPIs); skipped, with no
        event, when no lead's score, grade or MQL state moved."""
        from airflow.sdk.exceptions import AirflowSkipException

        from smarketing.scoring.runner import RunPlan

        if not summary["changed"] and not summary["new_mqls"]:
            raise AirflowSkipException("no score changed: no smarketing_lead_scores event")
        extra = {
            "run_id": run["run_id"],
            "as_of": str(RunPlan.from_dict(run).as_of),
            "mode": run["mode"],
            "model_version": run["model_version"],
            **summary,
        }
        get_current_context()["outlet_events"][LEAD_SCORES_ASSET].extra = extra
        return extra

    @task
    def write_back(run: dict) -> list[dict]:
        from smarketing.scoring.writeback import WritebackTarget, write_back

        context = get_current_context()
        targets = object_list_setting(
            "writeback",
            context["params"].get("writeback"),
            WRITEBACK_VARIABLE,
            WRITEBACK_ENV,
            WRITEBACK_TARGET_SCHEMA,
        )
        return [
            write_back(task_dsn(), WritebackTarget.parse(target), run_id=run["run_id"]) for target in targets
        ]

    ready = preflight()
    run = plan()
    ready >> run
    stats = score_shard.partial(run=run).expand(shard=shard_list(run))
    done = finalize(run, stats)
    publish_scores(run, done)
    done >> write_back(run)


smarketing_scoring()
