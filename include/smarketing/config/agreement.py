"""The agreement's root: every section's settings, and the checks that span sections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from smarketing.config.goals import Goal
from smarketing.config.nurturing import Nurturing
from smarketing.config.organization import Organization
from smarketing.config.privacy import Privacy
from smarketing.config.problems import clean_loc, describe, located
from smarketing.config.references import reference_problems
from smarketing.config.scoring import Scoring
from smarketing.config.sla import Sla
from smarketing.config.values import Settings, Slug, Text
from smarketing.config.vocabulary import Persona, Vocabulary


class Agreement(Settings):
    """The whole agreement. `Agreement.model_validate(data)` runs every check, cross-section ones included."""

    organization: Organization
    vocabulary: Vocabulary
    personas: tuple[Persona, ...] = ()
    lists: dict[Slug, tuple[Text, ...]] = Field(default_factory=dict)
    scoring: Scoring
    sla: Sla = Sla()
    nurturing: Nurturing = Nurturing()
    goals: tuple[Goal, ...] = ()
    privacy: Privacy = Privacy()

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Callable[[Any], Agreement]) -> Agreement:
        # Cross-section references are checked on the raw document whatever else is broken, and all
        # problems leave together with readable messages.
        errors: list[ErrorDetails] = []
        agreement: Agreement | None = None
        try:
            agreement = handler(data)
        except ValidationError as exc:
            errors = exc.errors()
        references = reference_problems(data) if isinstance(data, Mapping) else []
        if agreement is not None and not references:
            return agreement
        problems = [(clean_loc(e["loc"]), describe(e, cls)) for e in errors] + references
        raise located(cls.__name__, problems)

    @property
    def persona_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.personas)

    def match_persona(self, job_title: str | None) -> str | None:
        """The id of the first persona whose regex finds a match in the job title."""
        if not job_title:
            return None
        return next((p.id for p in self.personas if p.match.pattern.search(job_title)), None)

    def is_mql(self, score: float | None, grade: str | None) -> bool:
        return self.vocabulary.mql.is_met(score, grade)
