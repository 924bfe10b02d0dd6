"""What a check is: one Great Expectations expectation with a stable id, a severity and the staged
column it reads (`Check`); what suites are built from (`Context`); and how a suite collects its checks
with the severity overrides of the quality settings applied (`Suite`). The suites themselves are in
`checks` (raw records, batches, freshness) and `corechecks` (core tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from smarketing.quality.settings import QualityConfigError, QualitySettings, Severity


@dataclass(frozen=True)
class Check:
    suite: str
    check_id: str
    expectation: str  # class name in great_expectations.expectations
    kwargs: Mapping[str, Any]
    severity: Severity
    description: str
    row_level: bool = True
    source_system: str = ""
    columns: tuple[str, ...] = field(default=())
    # A table-level check whose failing rows can still be named: the row-level expectation (class name)
    # that finds them, run only when the cheap table-level one fails.
    rows_expectation: str | None = None

    @property
    def name(self) -> str:
        return f"{self.suite}.{self.check_id}"

    @property
    def expectation_type(self) -> str:
        """GX's name of the expectation: ExpectColumnValuesToBeNull -> expect_column_values_to_be_null."""
        return "".join("_" + c.lower() if c.isupper() else c for c in self.expectation).lstrip("_")

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    def staged_columns(self) -> tuple[str, ...]:
        named = [self.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        return tuple(c for c in named if c) + tuple(self.kwargs.get("column_list") or ()) + self.columns

    def build(self) -> Any:
        """A fresh Great Expectations expectation (each suite needs its own instances)."""
        import great_expectations.expectations as gxe

        cls = getattr(gxe, self.expectation)
        return cls(**dict(self.kwargs), meta={"check_id": self.check_id, "severity": self.severity})

    def rows_check(self) -> Check:
        """The row-level twin of a table-level check (see `rows_expectation`)."""
        assert self.rows_expectation is not None
        return replace(
            self,
            expectation=self.rows_expectation,
            kwargs={"column": self.kwargs["column"]},
            row_level=True,
            rows_expectation=None,
        )

    @property
    def names_rows(self) -> bool:
        """Whether the rows failing this check can be found (and so quarantined)."""
        return self.row_level or self.rows_expectation is not None

    def json_kwargs(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.kwargs.items()}


@dataclass(frozen=True)
class Context:
    """What the checks are built from: settings, the agreement's allowed values, the time of the check."""

    settings: QualitySettings
    lifecycle_stages: tuple[str, ...]
    persona_ids: tuple[str, ...]
    checked_at: datetime

    @classmethod
    def from_agreement(cls, settings: QualitySettings, agreement: Any, checked_at: datetime) -> Context:
        return cls(
            settings=settings,
            lifecycle_stages=tuple(agreement.vocabulary.lifecycle_stages),
            persona_ids=tuple(agreement.persona_ids),
            checked_at=checked_at,
        )

    @property
    def future_bound(self) -> datetime:
        return self.checked_at + timedelta(minutes=self.settings.timestamps.future_tolerance)


class Suite:
    """Collects the checks of one suite, applying severity overrides."""

    def __init__(self, suite: str, ctx: Context, source_system: str = "") -> None:
        self.suite, self.ctx, self.source_system = suite, ctx, source_system
        self.checks: list[Check] = []

    def add(
        self,
        check_id: str,
        expectation: str,
        severity: Severity,
        description: str,
        *,
        row_level: bool = True,
        columns: tuple[str, ...] = (),
        rows_expectation: str | None = None,
        **kwargs: Any,
    ) -> None:
        if any(c.check_id == check_id for c in self.checks):
            where = f"sources.{self.source_system}" if self.source_system else self.suite
            raise QualityConfigError(
                "quality settings", [f"{where}: check id '{check_id}' is used twice in {self.suite}"]
            )
        self.checks.append(
            Check(
                suite=self.suite,
                check_id=check_id,
                expectation=expectation,
                kwargs=kwargs,
                severity=self.ctx.settings.severity(self.suite, check_id, severity),
                description=description,
                row_level=row_level,
                source_system=self.source_system,
                columns=columns,
                rows_expectation=rows_expectation,
            )
        )

    # The checks several tables share, named and worded the same wherever they appear.
    def allowed(self, check_id: str, severity: Severity, description: str, column: str, values: Any) -> None:
        """The column's value is one of `values` (empty values pass)."""
        self.add(
            check_id,
            "ExpectColumnValuesToBeInSet",
            severity,
            description,
            column=column,
            value_set=list(values),
        )

    def not_in_future(self, column: str) -> None:
        """A critical check that the timestamp `column` is not later than now (plus the tolerance)."""
        self.add(
            f"{column}_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            f"{column} is not in the future",
            column=column,
            max_value=self.ctx.future_bound,
        )

    def not_negative(self, column: str, what: str) -> None:
        """A critical check that the number `column` (`what` in the message) is zero or more."""
        self.add(
            f"{column}_not_negative",
            "ExpectColumnValuesToBeBetween",
            "critical",
            f"{what} is zero or more",
            column=column,
            min_value=0,
        )
