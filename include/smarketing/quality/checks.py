"""The expectation suites, generated from code, the agreement and the quality settings.

A `Check` is one Great Expectations expectation with a stable id, a severity and the staged column it
reads. Suites are built per table: `raw.<object>` (for one source system: its extra checks join in),
`raw.batches` (every new batch: not empty, not far smaller than usual), `raw.freshness` (every source
and object: new data recently) and `core.<table>`.

Row-level checks read columns of a staged copy of the records (see `staging`): `<field>` (typed),
`<field>__unparsed` (timestamp text that is not an ISO 8601 date-time with an offset),
`<field>__given` (true when a timestamp is given at all, parseable or not),
`<field>__type` (JSON type of a number or boolean), `<field>__found` (whether a reference resolves to
a record of the same source system), `attributes__<name>` (an unmapped source field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from smarketing.config.patterns import postgres_pattern
from smarketing.quality.settings import ExtraCheck, QualityConfigError, QualitySettings, Severity
from smarketing.sources.mapping import CANONICAL_FIELDS, REQUIRED_FIELDS
from smarketing.vocabulary import ACTIVITY_TYPES, EVENT_TYPES

# The core build's own test for a usable address (sql/core/030_leads.sql), padding and case allowed:
# a lead whose address fails it would silently become a lead without e-mail.
EMAIL_REGEX = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"
DOMAIN_REGEX = r"^\s*([A-Za-z][A-Za-z0-9+.-]*://)?[^\s/@]+\.[^\s/@]+(/\S*)?\s*$"

# (object, reference field) -> (referenced object, check id, default severity). The core build drops a
# fact whose lead does not resolve, so those are critical; a missing company or owner only leaves a
# field empty in core.
REFERENCES: dict[tuple[str, str], tuple[str, str, Severity]] = {
    ("leads", "company_source_id"): ("companies", "company_resolves", "warning"),
    ("leads", "owner_source_id"): ("owners", "owner_resolves", "warning"),
    ("owners", "manager_source_id"): ("owners", "manager_resolves", "warning"),
    ("marketing_events", "lead_source_id"): ("leads", "lead_resolves", "critical"),
    ("sales_activities", "lead_source_id"): ("leads", "lead_resolves", "critical"),
    ("sales_activities", "owner_source_id"): ("owners", "owner_resolves", "warning"),
    ("deals", "lead_source_id"): ("leads", "lead_resolves", "critical"),
    ("deals", "company_source_id"): ("companies", "company_resolves", "warning"),
    ("lifecycle_history", "lead_source_id"): ("leads", "lead_resolves", "critical"),
}
NON_NEGATIVE = {("companies", "employees"), ("companies", "annual_revenue"), ("deals", "amount")}
KEY_COLUMNS = ("batch_id", "record_no")
# Objects in the order they are validated: a reference is checked after the records it points to.
OBJECT_ORDER = (
    "owners",
    "companies",
    "leads",
    "marketing_events",
    "sales_activities",
    "deals",
    "lifecycle_history",
)


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


class _Suite:
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


# -- raw ----------------------------------------------------------------------------------------
def raw_checks(object: str, source_system: str, ctx: Context, *, single_batch: bool = False) -> list[Check]:
    """Row-level checks of raw.<object> records of one source system.

    `single_batch`: the records all come from one batch, so the id alone must be unique (cheaper than
    the batch-and-id key several batches need).
    """
    s = _Suite(f"raw.{object}", ctx, source_system)
    s.add(
        "id_present",
        "ExpectColumnValuesToNotBeNull",
        "critical",
        "every record has an id",
        column="source_id",
    )
    # count(DISTINCT) is several times cheaper than the per-row uniqueness query on a million ids; the
    # per-row one runs only to name the duplicates when there are some.
    s.add(
        "id_unique_in_batch",
        "ExpectColumnProportionOfUniqueValuesToBeBetween",
        "critical",
        "no id appears twice in one batch (which version would be the record?)",
        row_level=False,
        rows_expectation="ExpectColumnValuesToBeUnique",
        column="source_id" if single_batch else "batch_key",
        min_value=1.0,
    )
    required = REQUIRED_FIELDS.get(object, ())
    for name, kind in CANONICAL_FIELDS[object].items():
        if name in required:
            # A timestamp that is given but unparseable is the parse check's business, not this one's.
            column = f"{name}__given" if kind == "timestamp" else name
            s.add(
                f"{name}_present",
                "ExpectColumnValuesToNotBeNull",
                "critical",
                f"{name} is given",
                column=column,
            )
        if kind == "timestamp":
            s.add(
                f"{name}_parseable",
                "ExpectColumnValuesToBeNull",
                "critical",
                f"{name} is an ISO 8601 date-time with a UTC offset",
                column=f"{name}__unparsed",
            )
            s.add(
                f"{name}_not_in_future",
                "ExpectColumnValuesToBeBetween",
                "critical",
                f"{name} is not in the future",
                column=name,
                max_value=ctx.future_bound,
            )
        elif kind in ("integer", "number"):
            s.add(
                f"{name}_is_number",
                "ExpectColumnValuesToBeInSet",
                "critical",
                f"{name} is a number",
                column=f"{name}__type",
                value_set=["number"],
            )
            if (object, name) in NON_NEGATIVE:
                s.add(
                    f"{name}_not_negative",
                    "ExpectColumnValuesToBeBetween",
                    "critical",
                    f"{name} is zero or more",
                    column=name,
                    min_value=0,
                )
        elif kind == "boolean":
            s.add(
                f"{name}_is_boolean",
                "ExpectColumnValuesToBeInSet",
                "critical",
                f"{name} is true or false",
                column=f"{name}__type",
                value_set=["boolean"],
            )
        if (object, name) in REFERENCES:
            target, check_id, severity = REFERENCES[(object, name)]
            s.add(
                check_id,
                "ExpectColumnValuesToBeInSet",
                severity,
                f"{name} names a record of raw.{target} of the same source system",
                column=f"{name}__found",
                value_set=[True],
            )
    _object_rules(s, object, ctx)
    for extra in ctx.settings.extra_checks(source_system, object):
        _extra(s, extra)
    return s.checks


def _object_rules(s: _Suite, object: str, ctx: Context) -> None:
    if object == "leads":
        s.add(
            "email_well_formed",
            "ExpectColumnValuesToMatchRegex",
            "critical",
            "e-mail is name@domain.tld",
            column="email",
            regex=EMAIL_REGEX,
        )
        s.add(
            "lifecycle_stage_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "lifecycle stage is one of vocabulary.lifecycle_stages of the agreement",
            column="lifecycle_stage",
            value_set=list(ctx.lifecycle_stages),
        )
    elif object == "companies":
        s.add(
            "domain_well_formed",
            "ExpectColumnValuesToMatchRegex",
            "warning",
            "domain looks like a web domain",
            column="domain",
            regex=DOMAIN_REGEX,
        )
    elif object == "marketing_events":
        s.add(
            "event_type_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "event type is in core.event_types",
            column="event_type",
            value_set=sorted(EVENT_TYPES),
        )
    elif object == "sales_activities":
        s.add(
            "activity_type_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "activity type is in core.activity_types",
            column="activity_type",
            value_set=sorted(ACTIVITY_TYPES),
        )
    elif object == "deals":
        s.add(
            "closed_not_before_created",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            "warning",
            "a deal closes after it was created",
            column_A="closed_at",
            column_B="created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    elif object == "lifecycle_history":
        s.add(
            "stage_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "stage is one of vocabulary.lifecycle_stages of the agreement",
            column="stage",
            value_set=list(ctx.lifecycle_stages),
        )


def staged_name(field_name: str) -> str:
    """Staged column of a canonical field or of `attributes.<name>`."""
    if field_name.startswith("attributes."):
        return "attributes__" + re.sub(r"[^a-z0-9_]", "_", field_name.split(".", 1)[1].lower())
    return field_name


def _extra(s: _Suite, extra: ExtraCheck) -> None:
    column = staged_name(extra.field)
    what = extra.field
    if extra.in_ is not None:
        s.add(
            extra.id,
            "ExpectColumnValuesToBeInSet",
            extra.severity,
            f"{what} is a known value",
            column=column,
            value_set=list(extra.in_),
        )
    elif extra.regex is not None:
        s.add(
            extra.id,
            "ExpectColumnValuesToMatchRegex",
            extra.severity,
            f"{what} matches {extra.regex}",
            column=column,
            regex=postgres_pattern(extra.regex),
        )
    elif extra.not_null:
        s.add(extra.id, "ExpectColumnValuesToNotBeNull", extra.severity, f"{what} is given", column=column)
    else:
        bounds = {k: v for k, v in (("min_value", extra.min), ("max_value", extra.max)) if v is not None}
        s.add(
            extra.id,
            "ExpectColumnValuesToBeBetween",
            extra.severity,
            f"{what} is within {bounds}",
            column=column,
            **bounds,
        )


def attribute_columns(settings: QualitySettings, source_system: str, object: str) -> dict[str, str]:
    """Staged column -> attribute name, for the unmapped source fields the extra checks read."""
    return {
        staged_name(extra.field): extra.field.split(".", 1)[1]
        for extra in settings.extra_checks(source_system, object)
        if extra.field.startswith("attributes.")
    }


def batch_checks(ctx: Context) -> list[Check]:
    """Per new batch (staged one row per batch): not empty, not far smaller than usual."""
    s = _Suite("raw.batches", ctx)
    # An hourly export may have nothing new; a full export that arrives empty is broken: make it
    # critical (severities: raw.batches.batch_not_empty) for sources that always deliver everything.
    s.add(
        "batch_not_empty",
        "ExpectColumnValuesToBeBetween",
        "warning",
        "a batch holds at least one record",
        column="row_count",
        min_value=1,
    )
    s.add(
        "batch_volume_usual",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        ctx.settings.volume.severity,
        f"a delivery (the batches one run landed for a source and object) holds at least "
        f"{ctx.settings.volume.min_share_of_usual:.0%} of the median of the last "
        f"{ctx.settings.volume.history_batches} deliveries",
        column_A="delivery_rows",
        column_B="min_usual_rows",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    return s.checks


def freshness_checks(ctx: Context) -> list[Check]:
    """Per source system and object (staged one row each): new records recently."""
    s = _Suite("raw.freshness", ctx)
    s.add(
        "source_fresh",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        ctx.settings.freshness.severity,
        "the last non-empty batch of each source and object is younger than its allowed age "
        "(freshness.max_age, or freshness.sources.<source>[.<object>])",
        column_A="max_age_hours",
        column_B="age_hours",
        or_equal=True,
    )
    return s.checks


# -- core ---------------------------------------------------------------------------------------
CORE_TABLES: dict[str, str] = {
    "leads": "lead_id",
    "companies": "company_id",
    "owners": "owner_id",
    "marketing_events": "event_id",
    "sales_activities": "activity_id",
    "deals": "deal_id",
    "lifecycle_history": "row_key",
}


def core_checks(table: str, ctx: Context) -> list[Check]:
    s = _Suite(f"core.{table}", ctx)
    future = ctx.future_bound
    if table == "leads":
        s.add(
            "email_well_formed",
            "ExpectColumnValuesToMatchRegex",
            "critical",
            "normalised e-mail is name@domain.tld",
            column="email_normalized",
            regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        )
        s.add(
            "lifecycle_stage_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "stage is in the agreement",
            column="lifecycle_stage",
            value_set=list(ctx.lifecycle_stages),
        )
        s.add(
            "persona_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "persona is one of the agreement's personas",
            column="persona_id",
            value_set=list(ctx.persona_ids),
        )
        s.add(
            "owner_resolves",
            "ExpectColumnValuesToBeInSet",
            "warning",
            "owner is in core.owners",
            column="owner_id__found",
            value_set=[True],
        )
        s.add(
            "created_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "created_at is not in the future",
            column="created_at",
            max_value=future,
        )
    elif table == "companies":
        s.add(
            "employees_not_negative",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "employees is zero or more",
            column="employees",
            min_value=0,
        )
        s.add(
            "annual_revenue_not_negative",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "annual revenue is zero or more",
            column="annual_revenue",
            min_value=0,
        )
    elif table == "owners":
        s.add(
            "manager_resolves",
            "ExpectColumnValuesToBeInSet",
            "warning",
            "manager is in core.owners",
            column="manager_id__found",
            value_set=[True],
        )
    elif table == "marketing_events":
        s.add(
            "occurred_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "occurred_at is not in the future",
            column="occurred_at",
            max_value=future,
        )
    elif table == "sales_activities":
        s.add(
            "owner_resolves",
            "ExpectColumnValuesToBeInSet",
            "warning",
            "owner is in core.owners",
            column="owner_id__found",
            value_set=[True],
        )
        s.add(
            "occurred_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "occurred_at is not in the future",
            column="occurred_at",
            max_value=future,
        )
    elif table == "deals":
        s.add(
            "amount_not_negative",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "amount is zero or more",
            column="amount",
            min_value=0,
        )
        s.add(
            "closed_not_before_lead_created",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            "warning",
            "a deal does not close before its lead was first seen",
            column_A="closed_at",
            column_B="lead_created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
        s.add(
            "closed_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "closed_at is not in the future",
            column="closed_at",
            max_value=future,
        )
    elif table == "lifecycle_history":
        s.add(
            "stage_allowed",
            "ExpectColumnValuesToBeInSet",
            "critical",
            "stage is in the agreement",
            column="stage",
            value_set=list(ctx.lifecycle_stages),
        )
        s.add(
            "entered_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            "critical",
            "entered_at is not in the future",
            column="entered_at",
            max_value=future,
        )
    return s.checks


def known_check_names(ctx: Context, source_systems: Sequence[str] = ()) -> set[str]:
    names = {c.name for c in batch_checks(ctx) + freshness_checks(ctx)}
    for object in OBJECT_ORDER:
        names |= {c.name for c in raw_checks(object, "", ctx)}
        names |= {c.name for c in core_checks(object, ctx)}
    for source in source_systems:
        for object in OBJECT_ORDER:
            names |= {c.name for c in raw_checks(object, source, ctx)}
    return names


def check_severity_overrides(ctx: Context) -> None:
    """Every `severities` key must name a check: a typo must not silently keep the default."""
    known = known_check_names(ctx, tuple(ctx.settings.sources))
    unknown = sorted(set(ctx.settings.severities) - known)
    if unknown:
        raise QualityConfigError(
            "quality settings",
            [
                f"severities.{name}: no such check (known checks look like raw.leads.email_well_formed)"
                for name in unknown
            ],
        )
