"""The suites of the core tables (`core.<table>`), checked after the core build.

Core rows are not quarantined: a failed critical check stops the `core` asset. These catch what only
the merged model shows: a persona the agreement no longer has, an owner missing from core.owners, a
deal closed before its lead was first seen. One function per table, in the order of CORE_TABLES.
"""

from __future__ import annotations

from collections.abc import Callable

from smarketing.quality.expectations import Check, Context, Suite

# Table -> the key column that names a failing row.
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
    """The checks of core.<table> (one of CORE_TABLES), severities as the quality settings say."""
    s = Suite(f"core.{table}", ctx)
    _RULES[table](s)
    return s.checks


def _leads(s: Suite) -> None:
    s.add(
        "email_well_formed",
        "ExpectColumnValuesToMatchRegex",
        "critical",
        "normalised e-mail is name@domain.tld",
        column="email_normalized",
        regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    )
    s.allowed(
        "lifecycle_stage_allowed",
        "critical",
        "stage is in the agreement",
        "lifecycle_stage",
        s.ctx.lifecycle_stages,
    )
    s.allowed(
        "persona_allowed",
        "critical",
        "persona is one of the agreement's personas",
        "persona_id",
        s.ctx.persona_ids,
    )
    s.allowed("owner_resolves", "warning", "owner is in core.owners", "owner_id__found", [True])
    s.not_in_future("created_at")


def _companies(s: Suite) -> None:
    s.not_negative("employees", "employees")
    s.not_negative("annual_revenue", "annual revenue")


def _owners(s: Suite) -> None:
    s.allowed("manager_resolves", "warning", "manager is in core.owners", "manager_id__found", [True])


def _marketing_events(s: Suite) -> None:
    s.not_in_future("occurred_at")


def _sales_activities(s: Suite) -> None:
    s.allowed("owner_resolves", "warning", "owner is in core.owners", "owner_id__found", [True])
    s.not_in_future("occurred_at")


def _deals(s: Suite) -> None:
    s.not_negative("amount", "amount")
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
    s.not_in_future("closed_at")


def _lifecycle_history(s: Suite) -> None:
    s.allowed("stage_allowed", "critical", "stage is in the agreement", "stage", s.ctx.lifecycle_stages)
    s.not_in_future("entered_at")


_RULES: dict[str, Callable[[Suite], None]] = {
    "leads": _leads,
    "companies": _companies,
    "owners": _owners,
    "marketing_events": _marketing_events,
    "sales_activities": _sales_activities,
    "deals": _deals,
    "lifecycle_history": _lifecycle_history,
}
