"""
### smarketing_sla — the follow-up clock of every handed-over MQL, breaches, alerts, marketing pace

Hourly. Reads every running SLA clock at the end of the hour just covered (`data_interval_end`; a run
triggered by hand reads it at the moment it was triggered, and keeps that moment when cleared):

1. **evaluate_followups** — for each MQL handed over to sales (its first MQL crossing in scoring or MQL
   stage in the CRM, whichever came first): the tier's deadline on the business calendar of the agreement (working hours, public
   holidays, closed days; the owner's own time zone), the first qualifying touch, the accept/reject
   decision, and their statuses (pending, at_risk, met, breached_late, breached_open, excluded) into
   `sla.followups` (rejected MQLs show in `sla.recycled_leads`); new breaches into `sla.breaches`.
   Late-arriving CRM data corrects earlier readings; clocks still running are re-read every hour.
2. **measure_delivery** — MQLs delivered this month (and last) against `sla.marketing.mql_target`, at a
   pace pro-rated by business time, with an end-of-month forecast, into `sla.marketing_delivery`.
3. **send_alerts** — each new breach once to its owner (one e-mail per owner), still-open breaches once
   to the owner's manager after `sla.sales.escalate_after`, marketing once when behind pace. Sent
   through the SMTP connection named in `sla.alerts`. While that connection is not defined at all the
   task skips with a warning naming how many breach alerts wait (they stay unmarked and go out on the
   first run after it exists); a connection that is defined but unusable (no host, an unreadable
   `AIRFLOW_CONN_*` variable) or a lookup that fails otherwise fails the task. A message lists at most
   `sla.alerts.max_listed` breaches (the longest overdue) and counts the rest. Addresses come from
   `sla.alerts` and the Airflow Variable `smarketing_sla_alerts`.

**Params**: `as_of` replays the clock at a past moment (touches and stage changes recorded later are
ignored; newer stored readings are kept), `send_alerts: false` evaluates without sending,
`reevaluate_days` widens the window of closed clocks that are re-read.

**Rerun** freely: a reading only replaces an older one, and a breach is announced once and escalated
once (docs/sla.md explains the send-then-mark transaction). The same evaluation runs by hand with `smarketing sla evaluate [--as-of ...]`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from smarketing.airflow_support import DEFAULT_ARGS, hourly, preflight, run_moment, task_dsn


def _as_of() -> str:
    """The moment this run reads the clock at (`run_moment`): the `as_of` param; else the moment a run
    triggered by hand was triggered; else the end of the hour a scheduled run covers."""
    return run_moment(get_current_context())


def _settings():
    from dataclasses import replace

    from smarketing.config import load_config
    from smarketing.sla.alerts import with_overrides
    from smarketing.sla.settings import settings_from_agreement

    settings = settings_from_agreement(load_config())
    return replace(settings, alerts=with_overrides(settings.alerts))


@dag(
    dag_id="smarketing_sla",
    schedule=hourly(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "sla", "hourly"],
    doc_md=__doc__,
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            description="Read the clock at this moment (ISO 8601). Empty: a run triggered here reads it at the "
            "moment it is triggered; the hourly run at the end of the hour it covers.",
        ),
        "send_alerts": Param(True, type="boolean", description="Send the alerts that are due."),
        "reevaluate_days": Param(
            30, type="integer", minimum=1, description="Closed clocks of MQLs this recent are re-read too."
        ),
    },
)
def smarketing_sla() -> None:
    @task
    def evaluate_followups() -> dict:
        from smarketing.sla.run import evaluate_followups as evaluate

        days = int(get_current_context()["params"].get("reevaluate_days") or 30)
        return evaluate(task_dsn(), _settings(), _as_of(), reevaluate_days=days)

    @task
    def measure_delivery() -> list[dict]:
        from smarketing.sla.run import measure_delivery as measure

        return measure(task_dsn(), _settings(), _as_of())

    @task
    def send_alerts() -> dict:
        import logging

        from airflow.sdk.exceptions import AirflowSkipException

        from smarketing.sla.alerts import unannounced_breaches
        from smarketing.sla.run import send_alerts as send
        from smarketing.sla.smtp import smtp_connection_defined

        context = get_current_context()
        if not context["params"].get("send_alerts", True):
            raise AirflowSkipException("alerts switched off for this run (param send_alerts)")
        settings = _settings()
        conn_id = settings.alerts.smtp_conn_id
        # Only a connection nobody defined skips; a broken one or a failed lookup fails the task.
        if not smtp_connection_defined(conn_id):
            # Unsent alerts stay unmarked: they go out on the first run after the connection exists.
            waiting = unannounced_breaches(task_dsn())
            reason = f"SMTP connection {conn_id!r} is not defined: {waiting} breach alert(s) wait unsent"
            logging.getLogger(__name__).warning(reason)
            raise AirflowSkipException(reason)
        return send(task_dsn(), settings, _as_of(), run_id=context["run_id"])

    ready = preflight()
    evaluated = evaluate_followups()
    measured = measure_delivery()
    ready >> evaluated >> measured >> send_alerts()


smarketing_sla()
