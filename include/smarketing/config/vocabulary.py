"""`vocabulary` and `personas`: the words both teams use (MQL, SQL stages) and the kinds of buyer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from smarketing.config.patterns import compile_pattern
from smarketing.config.values import Regex, Score, Settings, Slug, Text, unique
from smarketing.vocabulary import LIFECYCLE_STAGES


class MqlDefinition(Settings):
    """A lead is marketing-qualified when its score reaches `min_score` and its grade `min_grade` or better."""

    min_score: Score
    min_grade: str | None = None

    def is_met(self, score: float | None, grade: str | None) -> bool:
        if score is None or score < self.min_score:
            return False
        # Grades are consecutive letters from A, so alphabetical order is rank order (A is best).
        return self.min_grade is None or (grade is not None and grade <= self.min_grade)


class Vocabulary(Settings):
    """The words both teams use: what an MQL is, which lifecycle stages mean SQL, recycled, disqualified."""

    mql: MqlDefinition
    sql_stages: Annotated[tuple[Slug, ...], Field(min_length=1)] = ("salesqualifiedlead",)
    recycle_stage: Slug = "nurturing"
    disqualified_stages: tuple[Slug, ...] = ("disqualified",)
    lifecycle_stages: Annotated[tuple[Slug, ...], Field(min_length=1), AfterValidator(unique)] = (
        LIFECYCLE_STAGES
    )


# ---------------------------------------------------------------------------------------------
# personas
# ---------------------------------------------------------------------------------------------
class PersonaMatch(Settings):
    job_title_regex: Regex

    @property
    def pattern(self) -> Any:
        """The regex compiled by RE2 (linear-time `.search`)."""
        return compile_pattern(self.job_title_regex)


class Persona(Settings):
    """A kind of buyer, recognised from the job title. The first persona whose regex matches wins."""

    id: Slug
    name: Text | None = None
    description: Text | None = None
    match: PersonaMatch

    @property
    def label(self) -> str:
        return self.name or self.id
