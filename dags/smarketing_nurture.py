"""
### smarketing_nurture — leads not ready for sales enter one nurturing scenario, exactly once

Runs whenever scoring has written new scores (the `smarketing_lead_scores` asset), as of the moment that
scoring run scored. For the agreement's `nurturing.scenarios` (`config/smarketing.yaml`):

1. **plan** — eligibility first (e-mail consent, not unsubscribed, no hard bounce, not deleted or merged
   away, not a customer, not with sales), then each lead's best-ranked matching scenario (priority,
   cooldown, daily cap), the holdout kept out by a hash of lead and scenario, and the exits (became MQL,
   SQL, customer, unsubscribed, bounced); all recorded in the ledger `nurture.enrollments`.
2. **push** (one mapped task per target: a Mautic segment or campaign, a HubSpot list) — batch adds,
   each call recorded in `nurture.calls` before it leaves; an unknown outcome is settled by reading the
   tool back, never by sending blind.
3. **confirm** — reads each target's membership back: pushed rows found there become confirmed.
4. **exits** — removes the leads that left from their target.
5. **stats** — rebuilds `nurture.scenario_outcomes` (enrolled vs held out, 95% interval);
   **publish_nurture** emits the `smarketing_nurture` asset (extra: entries, exits, targets) that starts
   `smarketing_kpi` — skipped, with no event, for a dry run or when nothing entered, left or was sent.

**Params**: `dry_run` prints who would enter and leave which scenario and why, and records nothing (no
API call); `as_of` plans for another moment (ISO 8601).

**Rerun** freely: a rerun of the same run sends nothing already accepted (the ledger and a read-back
decide). The same by hand: `smarketing nurture plan [--as-of T]` (dry run), `smarketing nurture run`.
Connections: `smarketing_mautic`, `smarketing_hubspot` (as for extraction).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import DEFAULT_ARGS, LEAD_SCORES_ASSET, NURTURE_ASSET, preflight, task_dsn


def _as_of() -> str:
    """The param; else the moment the scoring run that triggered this one scored (its asset event);
    else the latest scoring asset event (a manual run); else now."""
    context = get_current_context()
    if context["params"].get("as_of"):
        return str(context["params"]["as_of"])
    events = list((context.get("triggering_asset_events") or {}).get(LEAD_SCORES_ASSET, []))
    if not events:
        events = list(context["inlet_events"][LEAD_SCORES_ASSET])[-1:]
    for event in reversed(events):
        if (event.extra or {}).get("as_of"):
            return str(event.extra["as_of"])
    return pendulum.now("UTC").isoformat()


@dag(
    dag_id="smarketing_nurture",
    schedule=[LEAD_SCORES_ASSET],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "nurture"],
    doc_md=__doc__,
    params={
        "dry_run": Param(
            False, type="boolean", description="Show the plan and why; record and send nothing."
        ),
        "as_of": Param(None, type=["null", "string"], description="Plan as of this moment (ISO 8601)."),
    },
)
def smarketing_nurture() -> None:
    @task(inlets=[LEAD_SCORES_ASSET])
    def plan() -> dict:
        """Exits and new entries into the ledger (or, dry run, the list of who and why)."""
        from smarketing.config import load_config
        from smarketing.nurture.tasks import plan_step

        context = get_current_context()
        as_of = _as_of()
        result = plan_step(
            task_dsn(),
            load_config(),
            run_id=context["run_id"],
            as_of=pendulum.parse(as_of),
            dry_run=bool(context["params"].get("dry_run")),
        )
        return {k: v for k, v in result.items() if k != "details"} | {"as_of": as_of}

    @task
    def targets(planned: dict) -> list[str]:
        """The targets with work: each gets its own push, confirm and exits task."""
        from smarketing.nurture.tasks import target_keys

        return target_keys(task_dsn(), dry_run=planned["dry_run"])

    @task(max_active_tis_per_dagrun=2, map_index_template="{{ task.op_kwargs['key'] }}")
    def push(key: str) -> dict:
        """Batch adds to one target, each sent once."""
        from smarketing.config import load_config
        from smarketing.nurture.tasks import push_step

        return push_step(task_dsn(), load_config(), key, run_id=get_current_context()["run_id"])

    @task(max_active_tis_per_dagrun=2, map_index_template="{{ task.op_kwargs['key'] }}")
    def confirm(key: str) -> dict:
        """Membership read back: pushed rows found in the target become confirmed."""
        from smarketing.nurture.tasks import confirm_step

        return confirm_step(task_dsn(), key, run_id=get_current_context()["run_id"])

    @task(max_active_tis_per_dagrun=2, map_index_template="{{ task.op_kwargs['key'] }}")
    def exits(key: str) -> dict:
        """Leads that left their scenario are removed from its target."""
        from smarketing.nurture.tasks import exits_step

        return exits_step(task_dsn(), key, run_id=get_current_context()["run_id"])

    @task(trigger_rule="none_failed")
    def stats(planned: dict) -> dict:
        """Outcomes enrolled vs held out; the run's standing per scenario."""
        from smarketing.config import load_config
        from smarketing.nurture.tasks import stats_step

        context = get_current_context()
        return stats_step(
            task_dsn(), load_config(), run_id=context["run_id"], as_of=pendulum.parse(planned["as_of"])
        )

    @task(outlets=[NURTURE_ASSET])
    def publish_nurture(planned: dict, keys: list[str], outcomes: dict) -> dict:
        """The `smarketing_nurture` asset event (it starts the KPIs); skipped, with no event, for a dry
        run or a run where no lead entered or left and no target had work."""
        from airflow.sdk.exceptions import AirflowSkipException

        entries = sum(n for counts in planned["entries"].values() for n in counts.values())
        exits = sum(n for counts in planned["exits"].values() for n in counts.values())
        if planned["dry_run"] or not (entries or exits or keys):
            raise AirflowSkipException("nothing changed in nurturing: no smarketing_nurture event")
        extra = {
            "run_id": get_current_context()["run_id"],
            "as_of": planned["as_of"],
            "entries": entries,
            "exits": exits,
            "targets": list(keys),
        }
        get_current_context()["outlet_events"][NURTURE_ASSET].extra = extra
        return extra

    ready = preflight()
    planned = plan()
    ready >> planned
    keys = targets(planned)
    pushed = push.expand(key=keys)
    confirmed = confirm.expand(key=keys)
    removed = exits.expand(key=keys)
    outcomes = stats(planned)
    pushed >> confirmed >> removed >> outcomes
    publish_nurture(planned, keys, outcomes)


smarketing_nurture()
