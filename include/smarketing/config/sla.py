"""`sla`: what sales promises marketing (first-touch tiers) and marketing promises sales (MQLs a month)."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, Strict, ValidationInfo, field_validator, model_validator

from smarketing.config.problems import Loc, located
from smarketing.config.values import (
    MAX_COUNT,
    Bool,
    BusinessMinutes,
    Clock,
    Score,
    Segment,
    Settings,
    Slug,
    Text,
    TouchType,
    business_duration_input,
    duration_input,
    unique,
)


class TierCondition(Settings):
    """Which MQLs a tier covers: all conditions given must hold."""

    min_score: Score | None = None
    min_grade: str | None = None
    personas: Annotated[tuple[Slug, ...], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _some_condition(self) -> TierCondition:
        if self.min_score is None and self.min_grade is None and self.personas is None:
            raise located(
                "TierCondition", [((), "give min_score, min_grade and/or personas, or remove `when`")]
            )
        return self

    def matches(self, score: float | None, grade: str | None, persona_id: str | None) -> bool:
        if self.min_score is not None and (score is None or score < self.min_score):
            return False
        if self.min_grade is not None and (grade is None or grade > self.min_grade):
            return False
        return self.personas is None or persona_id in self.personas


class SalesTier(Settings):
    """A first-touch deadline: sales touches a handed-over MQL within `within` on the `clock`."""

    id: Slug
    description: Text | None = None
    when: TierCondition | None = None
    # Declared before `within_minutes` so the duration check can see which clock it runs on.
    clock: Clock = "business"
    within_minutes: Annotated[int, Field(alias="within")]

    @field_validator("within_minutes", mode="before")
    @classmethod
    def _within(cls, value: object, info: ValidationInfo) -> object:
        if info.data.get("clock", "business") == "business":
            return business_duration_input(value)
        return duration_input(value)


_DEFAULT_TIERS = (SalesTier.model_validate({"id": "default", "within": "4h"}),)
_TIER_HINT = (
    "deadlines are a list under sla.sales.tiers: [{id: ..., when: {...}, within: 4h, clock: business}]"
)


class SalesSla(Settings):
    """What sales promises marketing: touch every handed-over MQL before its tier's deadline."""

    tiers: Annotated[tuple[SalesTier, ...], Field(min_length=1)] = _DEFAULT_TIERS
    qualifying_touches: Annotated[tuple[TouchType, ...], Field(min_length=1), AfterValidator(unique)] = (
        "call",
        "email",
        "meeting",
        "linkedin",
    )
    at_risk_share: Annotated[float, Strict(), Field(gt=0, lt=1)] = 0.75
    escalate_after_minutes: Annotated[BusinessMinutes | None, Field(alias="escalate_after")] = None
    accept_within_minutes: Annotated[BusinessMinutes | None, Field(alias="accept_within")] = None
    # An owner whose CRM profile names another time zone keeps the business hours on their own wall clock.
    owner_time_zones: Bool = True

    key_hints: ClassVar[dict[str, str]] = {"first_touch": _TIER_HINT, "hot_first_touch": _TIER_HINT}

    @field_validator("tiers")
    @classmethod
    def _tiers_in_order(cls, tiers: tuple[SalesTier, ...]) -> tuple[SalesTier, ...]:
        problems: list[tuple[Loc, str]] = []
        last = len(tiers) - 1
        for index, tier in enumerate(tiers):
            if tier.when is None and index != last:
                problems.append(
                    (
                        (index,),
                        "only the last tier may omit `when`: tiers are tried in order and it matches every MQL",
                    )
                )
        if tiers[last].when is not None:
            problems.append(
                ((last, "when"), "the last tier must have no `when`: it is the deadline of every other MQL")
            )
        if problems:
            raise located("SalesSla", problems)
        return tiers

    def tier_for(self, score: float | None, grade: str | None, persona_id: str | None) -> SalesTier:
        """The first tier whose conditions the MQL meets (the last tier matches every MQL)."""
        return next(t for t in self.tiers if t.when is None or t.when.matches(score, grade, persona_id))

    @property
    def tier_minutes(self) -> dict[str, int]:
        return {tier.id: tier.within_minutes for tier in self.tiers}


SEGMENT_DIMENSIONS: tuple[str, ...] = ("persona", "country", "industry")


class MqlTarget(Settings):
    monthly: Annotated[int, Strict(), Field(gt=0, le=MAX_COUNT)]
    segments: dict[Segment, Annotated[int, Strict(), Field(gt=0, le=MAX_COUNT)]] = Field(default_factory=dict)


class MarketingSla(Settings):
    """What marketing promises sales: this many MQLs a month."""

    mql_target: MqlTarget
    # Behind pace: MQLs delivered so far fall short of the pro-rated target by more than this share.
    behind_tolerance: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.1
    # No pace alert before this share of the month has gone (early days are too noisy to judge).
    alert_from_share: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.25


_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email_address(value: str) -> str:
    if not _EMAIL_ADDRESS.fullmatch(value):
        raise ValueError(f"invalid e-mail address {value!r}: write name@domain, e.g. sales-ops@example.com")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class SlaAlerts(Settings):
    """Where SLA alerts go, through the Airflow SMTP connection `smtp_conn_id`.

    Personal addresses are better kept out of this file: the Airflow Variable `smarketing_sla_alerts`
    adds or overrides every entry (JSON with the same keys). An owner without an address gets `team`.
    """

    smtp_conn_id: Text = "smtp_default"
    from_email: EmailAddress | None = None
    team: EmailAddress | None = None
    marketing: EmailAddress | None = None
    recipients: dict[Text, EmailAddress] = Field(default_factory=dict)
    # A message lists this many breaches at most (the longest overdue) and counts the rest.
    max_listed: Annotated[int, Field(ge=1, le=1000)] = 50
    # Link to the full list of one message, `{alert_id}` filled in (e.g. a BI dashboard filtered on it).
    full_list_url: Text | None = None


class Sla(Settings):
    sales: SalesSla = SalesSla()
    marketing: MarketingSla | None = None
    alerts: SlaAlerts = SlaAlerts()
