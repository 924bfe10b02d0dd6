"""
### smarketing_privacy — erase one person on request; purge personal data past its retention

Nightly, and on demand.

1. **erase** — only when the run is given a person (params `email_sha256`, or `email`): every row about
   them in raw, quality, core, scoring, SLA and nurturing is deleted or anonymised, their merged aliases
   included; any address of theirs left in free text is replaced; their hashes join the suppression list
   that every later landing honours, so the next pull does not bring them back. With `erase_at_source`,
   HubSpot (GDPR delete) and Mautic are asked to delete the contacts first; if one refuses, nothing
   changes in the warehouse and the task fails (rerun it). The audit row (`ops.erasures`) holds the hash,
   never the address. Scheduled runs skip this task.
2. **purge** — raw records landed more than `privacy.retention_days.raw` days before the run's moment, and
   quarantined records older than `privacy.retention_days.quarantine` days, deleted. The moment: the end of
   the nightly run's data interval; for a run triggered by hand, the moment it was triggered.

**Prefer `email_sha256`** (`smarketing privacy hash --email -` prints it): a run's params are stored in
Airflow's metadata database and shown in the UI, so an address given as `email` stays there after the
erasure. docs/privacy.md says more.

**Rerun** freely: a second erasure of the same person finds nothing and changes nothing; the purge only
deletes what is past its age. The same runs by hand: `smarketing privacy erase` / `smarketing privacy purge`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import DEFAULT_ARGS, nightly, preflight, run_moment, task_dsn


@dag(
    dag_id="smarketing_privacy",
    schedule=nightly(hour=3),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "privacy", "nightly"],
    doc_md=__doc__,
    params={
        "email_sha256": Param(
            None,
            type=["null", "string"],
            pattern="^([0-9a-fA-F]{64})?$",
            description="Erase this person: sha256 of the trimmed, lower-cased address (smarketing privacy hash).",
        ),
        "email": Param(
            None,
            type=["null", "string"],
            description="Erase this person by address instead (kept in Airflow's metadata DB: prefer the hash).",
        ),
        "erase_at_source": Param(
            False, type="boolean", description="Also delete the person in HubSpot and Mautic (GDPR delete)."
        ),
    },
)
def smarketing_privacy() -> None:
    @task
    def erase() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from smarketing.erasure.tasks import erase_step, requested

        context = get_current_context()
        if not requested(context["params"]):
            raise AirflowSkipException("no person named in the run's params: nothing to erase")
        return erase_step(task_dsn(), context["params"], run_id=context["run_id"])

    @task(trigger_rule="none_failed")
    def purge() -> dict:
        from smarketing.config import load_config
        from smarketing.erasure.settings import retention_from_agreement
        from smarketing.erasure.tasks import purge_step

        context = get_current_context()
        as_of = pendulum.parse(run_moment(context))
        return purge_step(task_dsn(), retention_from_agreement(load_config()), as_of=as_of)

    preflight() >> erase() >> purge()


smarketing_privacy()
