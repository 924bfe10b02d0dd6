"""
### smarketing_review — the monthly review: KPIs, the report, and a scoring proposal put to the teams

**Schedule**: on the 1st of each month at 06:00 (`SMARKETING_SCHEDULE_TIMEZONE`), with a data interval
equal to the month that just closed; the first task works out the agreement's **first business day** of
the new month (its time zone, working days and holidays, `smarketing.sla.calendar`) and
**wait_for_first_business_day** waits for its opening time (a sensor in reschedule mode: no worker slot
held while it waits). The agreement is read at run time, never when the scheduler parses this file.

Report side: **build_kpis** rewrites every KPI table's periods of the closed month, **render_report**
writes the self-contained HTML report (`review-YYYY-MM.html` in `SMARKETING_REPORT_DIR`, default
`.local/reports`, where the Smarketing page lists them), **mail_report** mails
it once per month and address when `smarketing_review_mail_to` (Variable or param) is set, through the
SMTP connection of `smarketing_review_smtp_conn_id` (default `smtp_default`).

Scoring side: **propose_scoring** recalibrates on the warehouse's outcomes (`smarketing calibrate
--from-warehouse`: fit, and engagement as of each lead's hand-over) and backtests the proposal against the
model in effect over the last `backtest_months` (MQLs, MQL→SQL, MQL→won per month; AUC), stored in
`scoring.model_reviews`, with the **MQL threshold** matched on the proposal's own point scale.
**approve_scoring** asks the teams (Airflow's Required Actions, or the REST API): Approve / Reject with a
comment; the request shows the threshold in effect → proposed and the backtest; no answer within
`SMARKETING_REVIEW_RESPONSE_HOURS` (default 120) counts as **Reject**. **record_decision** records who,
when, the comment and both model hashes; on approval it writes `config/proposals/scoring-YYYY-MM.patch`,
a unified diff of the agreement's `scoring:` block and `vocabulary.mql.min_score`, ready for a pull
request. The agreement file itself is never rewritten; a rejection writes no patch.

**Params**: `month` (YYYY-MM) reviews another month; `mail_to` overrides the address;
`backtest_months` (default 3). **Rerun** freely: the KPI build is idempotent, a month is mailed once, a
decided month keeps its decision.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.definitions.param import ParamsDict

from smarketing.airflow_support import DEFAULT_ARGS, TIMEZONE, preflight

RESPONSE_HOURS = float(os.environ.get("SMARKETING_REVIEW_RESPONSE_HOURS", "120"))
MONTH = "{{ ti.xcom_pull(task_ids='plan_review')['month'] }}"


@dag(
    dag_id="smarketing_review",
    schedule=CronDataIntervalTimetable("0 6 1 * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["smarketing", "review", "monthly"],
    doc_md=__doc__,
    params={
        "month": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}$",
            description="The closed month to review, YYYY-MM (e.g. 2026-10). Empty: the month before the run's.",
        ),
        "mail_to": Param(
            None,
            type=["null", "string"],
            description="Mail the report to this address. Empty: the Variable smarketing_review_mail_to (none: not mailed).",
        ),
        "backtest_months": Param(
            3,
            type="integer",
            minimum=1,
            maximum=12,
            description="How many months, ending with the reviewed one, the backtest replays (1 to 12).",
        ),
    },
)
def smarketing_review() -> None:
    @task
    def plan_review() -> dict:
        """The closed month and the opening time of the first business day after it."""
        from smarketing.review.tasks import plan

        context = get_current_context()
        return plan(context["params"].get("month"), context.get("data_interval_start"))

    wait = DateTimeSensor(
        task_id="wait_for_first_business_day",
        target_time="{{ ti.xcom_pull(task_ids='plan_review')['start_at'] }}",
        mode="reschedule",
        poke_interval=timedelta(minutes=30),
        timeout=timedelta(days=10),
    )

    @task
    def build_kpis(month: str) -> dict:
        """Rewrite the KPI tables' periods of the closed month."""
        from smarketing.review.tasks import build_kpis as build

        return build(month)

    @task
    def render_report(month: str) -> str:
        """The month's review report, one self-contained HTML file."""
        from smarketing.review.tasks import render

        return render(month)

    @task
    def mail_report(month: str, report: str) -> str:
        """Mail the report once per month and address, when an address is set."""
        from smarketing.review.tasks import mail

        return mail(month, report, get_current_context()["params"].get("mail_to"))

    @task
    def propose_scoring(month: str) -> dict:
        """Recalibrate on the warehouse's outcomes and backtest against the model in effect."""
        from smarketing.review.tasks import propose

        context = get_current_context()
        return propose(month, context["run_id"], int(context["params"]["backtest_months"]))

    approve = HITLOperator(
        task_id="approve_scoring",
        subject=f"Smarketing scoring proposal for {MONTH}",
        body="{{ ti.xcom_pull(task_ids='propose_scoring')['body'] }}",
        options=["Approve", "Reject"],
        defaults=["Reject"],
        response_timeout=timedelta(hours=RESPONSE_HOURS),
    )
    # The form asks for a comment only: the DAG's params (merged into every task's) are not questions.
    # "null" in its type keeps it optional: the UI marks a field without it required and disables the buttons.
    approve.params = ParamsDict(
        {"comment": Param(None, type=["null", "string"], description="Why (optional).")}
    )

    @task
    def record_decision(month: str) -> dict:
        """Record the answer; on approval write the agreement patch for a pull request."""
        from smarketing.review.tasks import decide

        return decide(month, get_current_context()["ti"].xcom_pull(task_ids="approve_scoring"))

    ready = preflight()
    planned = plan_review()
    month = planned["month"]
    ready >> planned >> wait
    kpis = build_kpis(month)
    wait >> kpis
    report = render_report(month)
    kpis >> report
    mail_report(month, report)
    proposal = propose_scoring(month)
    wait >> proposal >> approve >> record_decision(month)


smarketing_review()
