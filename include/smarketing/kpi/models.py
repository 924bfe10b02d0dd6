"""The KPI models: one SQL file per kpi table (sql/kpi/<table>.sql), in build order.

A model is a SELECT producing the table's rows for a range of periods (`%(lo)s <= period < %(hi)s`,
first days of months, or days for the daily tables). What makes a period worth rebuilding is named by
`changes`: kinds of change the build finds since the table's watermark (sql/kpi/changes.sql). A model
without `changes` reads small inputs and is rebuilt whole on every build.
"""

from __future__ import annotations

from dataclasses import dataclass

from smarketing.sqlfiles import statement


@dataclass(frozen=True)
class KpiModel:
    name: str
    period_column: str | None  # None: the table is rewritten whole
    changes: tuple[str, ...] = ()
    # velocity compares a month with the one before: a change also moves the next month's figures
    next_month_too: bool = False
    # cohorts close as time passes: a build also rewrites the cohorts that closed since the last one
    closes_with_time: bool = False
    # a table another capability creates (None: always present)
    requires: str | None = None
    # which staged leads (sql/kpi/stg_*.sql) the model reads: those with a fact in its periods ("periods"),
    # the leads of the deals opened or won in its periods ("deals"), in the agreement's goal periods
    # ("goals"), the nurture ledger's ("enrolled"), or none (None)
    staged: str | None = "periods"
    # kept up to date by the logged changes of its inputs as well (smarketing.kpi.engagement): only the
    # months named by `changes`, or where a change cannot simply be added, are built again
    by_difference: bool = False
    # a statement of sql/kpi/ run before the model in the transaction of each range it rewrites, and the
    # tables it keeps there for the model to read (attribution's per-deal credits and their sums), emptied by
    # a full build
    prepare: str | None = None
    keeps: tuple[str, ...] = ()
    # the periods are days: an incremental build rewrites the days touched, not their whole months
    daily: bool = False

    @property
    def table(self) -> str:
        return f"kpi.{self.name}"

    @property
    def whole(self) -> bool:
        return not self.changes

    def sql(self) -> str:
        return read_sql(self.name)


def read_sql(name: str) -> str:
    """The text of sql/kpi/<name>.sql (trusted project SQL)."""
    return statement("kpi", name)


MODELS: tuple[KpiModel, ...] = (
    # a step counts on its own day: a changed step moves its months (facts, an MQL moment), a changed lead
    # record moves every row of the lead (its dimensions)
    KpiModel("funnel_daily", "day", ("facts", "record", "mql"), daily=True),
    KpiModel("funnel_monthly", "month", ("facts", "record", "mql"), staged=None),
    KpiModel("conversion_cohorts", "cohort_month", ("record", "mql", "cohorts"), closes_with_time=True),
    KpiModel("velocity_monthly", "month", ("facts", "record", "mql", "milestones"), next_month_too=True),
    # a touch or a milestone of a lead moves the credit of its deals
    KpiModel(
        "attribution_monthly",
        "month",
        ("facts", "record", "deals"),
        staged="deals",
        prepare="attribution_credits",
        keeps=("ops.kpi_deal_credits", "ops.kpi_credit_sums"),
    ),
    KpiModel("sla_compliance_monthly", "month", ("followups", "record"), staged=None),
    KpiModel("marketing_delivery_monthly", None, staged=None),
    # new, corrected and deleted events come through the change log; a deleted lead's events leave by month
    KpiModel("engagement_monthly", "month", ("gone_events",), staged=None, by_difference=True),
    KpiModel("score_quality_monthly", "cohort_month", ("record", "crossings")),
    KpiModel("nurture_monthly", None, requires="nurture.enrollments", staged="enrolled"),
    KpiModel("data_quality_daily", "day", ("dq",), staged=None),
    KpiModel("goals_progress", None, staged="goals"),
)

MODEL_NAMES: tuple[str, ...] = tuple(m.name for m in MODELS)


def model(name: str) -> KpiModel:
    for candidate in MODELS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown KPI table {name!r}; known: {', '.join(MODEL_NAMES)}")
