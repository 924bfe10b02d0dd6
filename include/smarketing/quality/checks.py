"""The expectation suites of raw data, generated from code, the agreement and the quality settings.

A `Check` (see `expectations`) is one Great Expectations expectation with a stable id, a severity and
the staged column it reads. Suites are built per table: `raw.<object>` (for one source system: its
extra checks join in), `raw.batches` (every new batch: not empty, not far smaller than usual),
`raw.freshness` (every source and object: new data recently); `core.<table>` is in `corechecks`.

Row-level checks read columns of a staged copy of the records (see `staging`): `<field>` (typed),
`<field>__unparsed` (timestamp text that is not an ISO 8601 date-time with an offset),
`<field>__given` (true when a timestamp is given at all, parseable or not),
`<field>__type` (JSON type of a number or boolean), `<field>__found` (whether a reference resolves to
a record of the same source system), `attributes__<name>` (an unmapped source field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from smarketing.config.patterns import postgres_pattern
from smarketing.quality.corechecks import core_checks
from smarketing.quality.expectations import Check, Context, Suite
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


# -- raw ----------------------------------------------------------------------------------------
def raw_checks(object: str, source_system: str, ctx: Context, *, single_batch: bool = False) -> list[Check]:
    """Row-level checks of raw.<object> records of one source system.

    `single_batch`: the records all come from one batch, so the id alone must be unique (cheaper than
    the batch-and-id key several batches need).
    """
    s = Suite(f"raw.{object}", ctx, source_system)
    _identity(s, single_batch)
    required = REQUIRED_FIELDS.get(object, ())
    for name, kind in CANONICAL_FIELDS[object].items():
        _field(s, object, name, kind, required=name in required)
        if (object, name) in REFERENCES:
            target, check_id, severity = REFERENCES[(object, name)]
            s.allowed(
                check_id,
                severity,
                f"{name} names a record of raw.{target} of the same source system",
                f"{name}__found",
                [True],
            )
    _OBJECT_RULES.get(object, lambda s: None)(s)
    for extra in ctx.settings.extra_checks(source_system, object):
        _extra(s, extra)
    return s.checks


def _identity(s: Suite, single_batch: bool) -> None:
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


def _field(s: Suite, object: str, name: str, kind: str, *, required: bool) -> None:
    """The checks of one canonical field: given (when required), then those of its kind."""
    if required:
        # A timestamp that is given but unparseable is the parse check's business, not this one's.
        column = f"{name}__given" if kind == "timestamp" else name
        s.add(
            f"{name}_present", "ExpectColumnValuesToNotBeNull", "critical", f"{name} is given", column=column
        )
    if kind == "timestamp":
        s.add(
            f"{name}_parseable",
            "ExpectColumnValuesToBeNull",
            "critical",
            f"{name} is an ISO 8601 date-time with a UTC offset",
            column=f"{name}__unparsed",
        )
        s.not_in_future(name)
    elif kind in ("integer", "number"):
        s.allowed(f"{name}_is_number", "critical", f"{name} is a number", f"{name}__type", ["number"])
        if (object, name) in NON_NEGATIVE:
            s.not_negative(name, name)
    elif kind == "boolean":
        s.allowed(f"{name}_is_boolean", "critical", f"{name} is true or false", f"{name}__type", ["boolean"])


def _leads(s: Suite) -> None:
    s.add(
        "email_well_formed",
        "ExpectColumnValuesToMatchRegex",
        "critical",
        "e-mail is name@domain.tld",
        column="email",
        regex=EMAIL_REGEX,
    )
    s.allowed(
        "lifecycle_stage_allowed",
        "critical",
        "lifecycle stage is one of vocabulary.lifecycle_stages of the agreement",
        "lifecycle_stage",
        s.ctx.lifecycle_stages,
    )


def _companies(s: Suite) -> None:
    s.add(
        "domain_well_formed",
        "ExpectColumnValuesToMatchRegex",
        "warning",
        "domain looks like a web domain",
        column="domain",
        regex=DOMAIN_REGEX,
    )


def _deals(s: Suite) -> None:
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


# The rules of one object beyond its fields' kinds and references.
_OBJECT_RULES: dict[str, Callable[[Suite], None]] = {
    "leads": _leads,
    "companies": _companies,
    "marketing_events": lambda s: s.allowed(
        "event_type_allowed",
        "critical",
        "event type is in core.event_types",
        "event_type",
        sorted(EVENT_TYPES),
    ),
    "sales_activities": lambda s: s.allowed(
        "activity_type_allowed",
        "critical",
        "activity type is in core.activity_types",
        "activity_type",
        sorted(ACTIVITY_TYPES),
    ),
    "deals": _deals,
    "lifecycle_history": lambda s: s.allowed(
        "stage_allowed",
        "critical",
        "stage is one of vocabulary.lifecycle_stages of the agreement",
        "stage",
        s.ctx.lifecycle_stages,
    ),
}


def staged_name(field_name: str) -> str:
    """Staged column of a canonical field or of `attributes.<name>`."""
    if field_name.startswith("attributes."):
        return "attributes__" + re.sub(r"[^a-z0-9_]", "_", field_name.split(".", 1)[1].lower())
    return field_name


def _extra(s: Suite, extra: ExtraCheck) -> None:
    column = staged_name(extra.field)
    what = extra.field
    if extra.in_ is not None:
        s.allowed(extra.id, extra.severity, f"{what} is a known value", column, extra.in_)
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
    s = Suite("raw.batches", ctx)
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
    s = Suite("raw.freshness", ctx)
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
