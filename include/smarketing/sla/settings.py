"""The SLA's reading of the agreement: plain frozen values the clock, the alerts and the pace work from.

`settings_from_agreement` is the only place that knows the pydantic models of `config/smarketing.yaml`;
everything else in `smarketing.sla` takes an `SlaSettings`, which tests build directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any

from smarketing.sla.calendar import CalendarSpec

if TYPE_CHECKING:
    from smarketing.config import Agreement

DEFAULT_BEHIND_TOLERANCE = 0.1
DEFAULT_ALERT_FROM_SHARE = 0.25
ALL_SEGMENT = "all"


@dataclass(frozen=True)
class Tier:
    """A first-touch deadline and the MQLs it covers (no condition: every MQL)."""

    id: str
    within_minutes: int
    business_clock: bool = True
    min_score: float | None = None
    min_grade: str | None = None
    personas: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go. Addresses live here and in the Airflow Variable only, never in a table or a log."""

    smtp_conn_id: str = "smtp_default"
    from_email: str | None = None
    team_to: str | None = None  # owners without their own address, unassigned leads, managers without one
    marketing_to: str | None = None
    recipients: dict[str, str] = field(default_factory=dict)  # owner id -> address
    max_listed: int = 50  # breaches listed in one message (the longest overdue); the rest are counted
    full_list_url: str | None = None  # link to one message's full list, `{alert_id}` filled in

    def for_owner(self, owner_id: str | None) -> tuple[str, str] | None:
        """(address, route) for an owner's alerts: their own address, else the team's; None if neither."""
        if owner_id and owner_id in self.recipients:
            return self.recipients[owner_id], "owner"
        return (self.team_to, "team") if self.team_to else None

    @property
    def configured(self) -> bool:
        return bool(self.team_to or self.recipients or self.marketing_to)


@dataclass(frozen=True)
class SlaSettings:
    calendar: CalendarSpec
    tiers: tuple[Tier, ...] = (Tier("default", 240),)
    qualifying_touches: tuple[str, ...] = ("call", "email", "meeting", "linkedin")
    at_risk_share: float = 0.75
    escalate_after_minutes: int | None = None
    accept_within_minutes: int | None = None
    sql_stages: tuple[str, ...] = ("salesqualifiedlead",)
    recycle_stage: str | None = "nurturing"
    disqualified_stages: tuple[str, ...] = ("disqualified",)
    mql_stage: str = "marketingqualifiedlead"
    owner_time_zones: bool = True  # owners with their own time zone run on their own wall clock
    monthly_target: int | None = None
    segment_targets: dict[str, int] = field(default_factory=dict)
    behind_tolerance: float = DEFAULT_BEHIND_TOLERANCE
    alert_from_share: float = DEFAULT_ALERT_FROM_SHARE
    alerts: AlertSettings = AlertSettings()

    @property
    def reject_stages(self) -> tuple[str, ...]:
        recycle = (self.recycle_stage,) if self.recycle_stage else ()
        return recycle + tuple(s for s in self.disqualified_stages if s != self.recycle_stage)

    @property
    def targets(self) -> dict[str, int]:
        """Monthly MQL target per segment ("all" for the whole funnel)."""
        if self.monthly_target is None:
            return {}
        return {ALL_SEGMENT: self.monthly_target, **self.segment_targets}


def _tier(model: Any) -> Tier:
    when = model.when
    return Tier(
        id=model.id,
        within_minutes=int(model.within_minutes),
        business_clock=model.clock == "business",
        min_score=None if when is None else when.min_score,
        min_grade=None if when is None else when.min_grade,
        personas=None if when is None or when.personas is None else tuple(when.personas),
    )


def calendar_spec(organization: Any) -> CalendarSpec:
    hours = organization.business_hours
    holidays = organization.holidays
    end: time | None = hours.end
    return CalendarSpec(
        timezone=organization.timezone,
        days=tuple(sorted(hours.weekdays)),
        start=hours.start,
        end=end,
        holiday_country=None if holidays is None else holidays.country,
        holiday_subdivision=None if holidays is None else holidays.subdivision,
        closed_days=frozenset(organization.closed_days),
    )


def _alerts(model: Any) -> AlertSettings:
    return AlertSettings(
        smtp_conn_id=model.smtp_conn_id,
        from_email=model.from_email,
        team_to=model.team,
        marketing_to=model.marketing,
        recipients=dict(model.recipients),
        max_listed=model.max_listed,
        full_list_url=model.full_list_url,
    )


def settings_from_agreement(agreement: Agreement) -> SlaSettings:
    sales = agreement.sla.sales
    marketing = agreement.sla.marketing
    vocabulary = agreement.vocabulary
    target = None if marketing is None else marketing.mql_target
    return SlaSettings(
        calendar=calendar_spec(agreement.organization),
        tiers=tuple(_tier(t) for t in sales.tiers),
        qualifying_touches=tuple(sales.qualifying_touches),
        at_risk_share=float(sales.at_risk_share),
        escalate_after_minutes=sales.escalate_after_minutes,
        accept_within_minutes=sales.accept_within_minutes,
        sql_stages=tuple(vocabulary.sql_stages),
        recycle_stage=vocabulary.recycle_stage,
        disqualified_stages=tuple(vocabulary.disqualified_stages),
        owner_time_zones=sales.owner_time_zones,
        monthly_target=None if target is None else int(target.monthly),
        segment_targets={} if target is None else {k: int(v) for k, v in target.segments.items()},
        behind_tolerance=DEFAULT_BEHIND_TOLERANCE if marketing is None else marketing.behind_tolerance,
        alert_from_share=DEFAULT_ALERT_FROM_SHARE if marketing is None else marketing.alert_from_share,
        alerts=_alerts(agreement.sla.alerts),
    )
