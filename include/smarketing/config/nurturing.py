"""`nurturing`: scenarios that enroll not-yet-ready leads into a marketing-automation segment or list.

A lead is in at most one scenario at a time: of the scenarios it matches, the one with the smallest
`priority` wins (ties: the one listed first). `exit_when` names what ends an enrollment; a withdrawn
consent and a deleted lead always do. `holdout_share` of each scenario's entries is kept out as the
control group (chosen by a hash of lead id and scenario, so the same lead always falls the same way).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from smarketing.config.problems import located
from smarketing.config.values import MAX_COUNT, MAX_DAYS, Bool, ExternalId, Number, Settings, Slug, Text
from smarketing.vocabulary import EVENT_TYPES


class ScenarioCondition(Settings):
    """Which leads a scenario enrolls: all conditions given must hold."""

    below_mql: Bool = True
    interests_any: tuple[Slug, ...] = ()
    personas: tuple[Slug, ...] = ()
    lifecycle_stages: tuple[Slug, ...] = ()
    min_days_since_last_touch: Annotated[int, Strict(), Field(ge=0, le=MAX_DAYS)] | None = None

    @property
    def interest_event_types(self) -> frozenset[str]:
        """The interests that are event types; the others are content topics."""
        return frozenset(i for i in self.interests_any if i in EVENT_TYPES)

    @property
    def interest_topics(self) -> frozenset[str]:
        return frozenset(i for i in self.interests_any if i not in EVENT_TYPES)


_TARGET_KINDS: dict[str, tuple[str, ...]] = {"mautic": ("segment", "campaign"), "hubspot": ("list",)}


class NurtureTarget(Settings):
    """Where enrolled leads go: a Mautic segment or campaign, or a HubSpot list."""

    system: Literal["mautic", "hubspot"]
    segment_id: Annotated[ExternalId | None, Field(alias="segment")] = None
    campaign_id: Annotated[ExternalId | None, Field(alias="campaign")] = None
    list_id: Annotated[ExternalId | None, Field(alias="list")] = None
    # core.lead_sources.source_system whose record ids the tool knows (default: the system's name)
    source_system: Slug | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> NurtureTarget:
        given = [kind for kind in ("segment", "campaign", "list") if getattr(self, f"{kind}_id") is not None]
        allowed = _TARGET_KINDS[self.system]
        if len(given) != 1:
            message = f"give exactly one of {' or '.join(allowed)} for {self.system}"
            raise located("NurtureTarget", [((), message)])
        if given[0] not in allowed:
            message = f"{self.system} takes {' or '.join(allowed)}, not {given[0]}"
            raise located("NurtureTarget", [((given[0],), message)])
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("segment", "campaign", "list") if getattr(self, f"{k}_id") is not None)

    @property
    def target_id(self) -> str:
        return str(getattr(self, f"{self.kind}_id"))

    @property
    def id_source(self) -> str:
        """The source system whose contact ids this target takes."""
        return self.source_system or self.system

    @property
    def key(self) -> str:
        """`mautic:segment:12`: one name per target, used by the ledger and the push tasks."""
        return f"{self.system}:{self.kind}:{self.target_id}"


ExitReason = Literal["mql", "sql", "customer", "unsubscribed", "bounced"]
EXIT_REASONS: tuple[str, ...] = ("mql", "sql", "customer", "unsubscribed", "bounced")


class Scenario(Settings):
    id: Slug
    description: Text | None = None
    when: ScenarioCondition = ScenarioCondition()
    target: NurtureTarget
    cooldown_days: Annotated[int, Strict(), Field(ge=0, le=MAX_DAYS)] = 30
    requires_consent: Bool = True
    priority: Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)] | None = None
    daily_cap: Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)] | None = None
    exit_when: tuple[ExitReason, ...] = ("mql", "sql", "customer", "unsubscribed", "bounced")
    holdout_share: Annotated[Number, Field(ge=0, le=0.5)] = 0.0


class Nurturing(Settings):
    # content topics an `interests_any` may name besides event types (core.marketing_events.content_topic)
    topics: tuple[Slug, ...] = ()
    # how far back (days) an event counts as an interest of the lead
    interests_within_days: Annotated[int, Strict(), Field(ge=1, le=3660)] = 90
    scenarios: tuple[Scenario, ...] = ()

    def ranked(self) -> list[tuple[int, Scenario]]:
        """Scenarios in the order a lead matching several is offered them: (rank from 1, scenario)."""
        order = sorted(
            range(len(self.scenarios)),
            key=lambda i: (self.scenarios[i].priority or 1_000_000, i),
        )
        return [(rank, self.scenarios[i]) for rank, i in enumerate(order, start=1)]
