"""`goals`: SMART goals, each a metric from `GOAL_METRICS`, a target and a period."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, Field, Strict, model_validator

from smarketing.config.problems import Loc, closest, located
from smarketing.config.values import MAX_AMOUNT, DateValue, Segment, Settings, Slug, Text


class GoalMetric(NamedTuple):
    description: str
    unit: Literal["count", "amount", "share", "minutes"]
    higher_is_better: bool = True


GOAL_METRICS: dict[str, GoalMetric] = {
    "mql_count": GoalMetric("Leads that became MQL in the period.", "count"),
    "sql_count": GoalMetric("Leads that entered an SQL stage in the period.", "count"),
    "opportunity_count": GoalMetric("Deals opened in the period.", "count"),
    "won_deals": GoalMetric("Deals won (closed) in the period.", "count"),
    "won_amount": GoalMetric("Amount of the deals won in the period (reporting currency).", "amount"),
    "pipeline_amount": GoalMetric("Amount of the deals opened in the period (reporting currency).", "amount"),
    "mql_to_sql_rate": GoalMetric("Share of the period's MQLs that became SQL.", "share"),
    "sql_to_won_rate": GoalMetric("Share of the period's SQLs that led to a won deal.", "share"),
    "sla_compliance": GoalMetric("Share of handed-over MQLs touched before their SLA deadline.", "share"),
    "median_first_touch_minutes": GoalMetric(
        "Median time from hand-over to first sales touch (on each tier's clock).", "minutes", False
    ),
}


def _metric(value: str) -> str:
    if value not in GOAL_METRICS:
        raise ValueError(
            f"unknown metric {value!r}{closest(value, GOAL_METRICS)}; known: {', '.join(GOAL_METRICS)}"
        )
    return value


class Goal(Settings):
    """A SMART goal: a metric, a target, a period (both ends included), optionally one segment."""

    id: Slug
    description: Text | None = None
    metric: Annotated[str, AfterValidator(_metric)]
    target: Annotated[float, Strict(), Field(ge=0, le=MAX_AMOUNT)]
    starts_on: Annotated[DateValue, Field(alias="from")]
    ends_on: Annotated[DateValue, Field(alias="to")]
    segment: Segment | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Goal:
        problems: list[tuple[Loc, str]] = []
        if self.ends_on < self.starts_on:
            problems.append((("to",), f"{self.ends_on} is before from ({self.starts_on})"))
        if GOAL_METRICS[self.metric].unit == "share" and self.target > 1:
            problems.append(
                (("target",), f"{self.metric} is a share: write it between 0 and 1 (e.g. 0.3 for 30%)")
            )
        if problems:
            raise located("Goal", problems)
        return self

    @property
    def metric_info(self) -> GoalMetric:
        return GOAL_METRICS[self.metric]
