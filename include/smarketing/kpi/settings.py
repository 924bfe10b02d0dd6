"""The KPI build's reading of the agreement: plain frozen values the models are parameterised with.

`settings_from_agreement` is the only place here that knows the pydantic models of `config/smarketing.yaml`;
tests build `KpiSettings` directly. The business calendar is the SLA's (`smarketing.sla.calendar`), read from
the same `organization:` section, so a goal is pro-rated on exactly the days the SLA clock runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from smarketing.sla.calendar import CalendarSpec
from smarketing.sla.settings import calendar_spec

if TYPE_CHECKING:
    from smarketing.config import Agreement

# Days after the end of a cohort month during which its leads' conversions still count (then it closes).
DEFAULT_HORIZON_DAYS = 180
MQL_STAGE = "marketingqualifiedlead"


@dataclass(frozen=True)
class GoalSpec:
    """One SMART goal: `unit` is count, amount, share or minutes; `segment` "all" or `<dimension>:<value>`."""

    id: str
    metric: str
    unit: str
    higher_is_better: bool
    target: float
    starts_on: date
    ends_on: date
    segment: str = "all"


@dataclass(frozen=True)
class KpiSettings:
    calendar: CalendarSpec
    sql_stages: tuple[str, ...] = ("salesqualifiedlead",)
    mql_stage: str = MQL_STAGE
    horizon_days: int = DEFAULT_HORIZON_DAYS
    goals: tuple[GoalSpec, ...] = ()

    @property
    def timezone(self) -> str:
        return self.calendar.timezone


def settings_from_agreement(agreement: Agreement, *, horizon_days: int = DEFAULT_HORIZON_DAYS) -> KpiSettings:
    """KPI settings from the validated agreement (`smarketing.config.load_config()`)."""
    goals = tuple(
        GoalSpec(
            id=goal.id,
            metric=goal.metric,
            unit=goal.metric_info.unit,
            higher_is_better=goal.metric_info.higher_is_better,
            target=float(goal.target),
            starts_on=goal.starts_on,
            ends_on=goal.ends_on,
            segment=goal.segment or "all",
        )
        for goal in agreement.goals
    )
    return KpiSettings(
        calendar=calendar_spec(agreement.organization),
        sql_stages=tuple(agreement.vocabulary.sql_stages),
        horizon_days=horizon_days,
        goals=goals,
    )
