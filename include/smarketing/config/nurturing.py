"""`nurturing`: scenarios that enroll not-yet-ready leads into a marketing-automation segment or list."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from smarketing.config.problems import located
from smarketing.config.values import Bool, ExternalId, Settings, Slug, Text
from smarketing.vocabulary import EVENT_TYPES


class ScenarioCondition(Settings):
    """Which leads a scenario enrolls: all conditions given must hold."""

    below_mql: Bool = True
    interests_any: tuple[Slug, ...] = ()
    personas: tuple[Slug, ...] = ()
    lifecycle_stages: tuple[Slug, ...] = ()
    min_days_since_last_touch: Annotated[int, Strict(), Field(ge=0)] | None = None

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


class Scenario(Settings):
    id: Slug
    description: Text | None = None
    when: ScenarioCondition = ScenarioCondition()
    target: NurtureTarget
    cooldown_days: Annotated[int, Strict(), Field(ge=0)] = 30
    requires_consent: Bool = True


class Nurturing(Settings):
    scenarios: tuple[Scenario, ...] = ()
