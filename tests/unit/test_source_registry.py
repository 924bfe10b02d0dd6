"""The connector registry and the settings every API connector reads the same way."""

from __future__ import annotations

import pytest

from smarketing.airflow_support import retry_cannot_fix
from smarketing.errors import SmarketingError
from smarketing.sources.extract import api_tasks, source_settings
from smarketing.sources.http import RateLimit
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.mautic.hook import MauticHook
from smarketing.sources.registry import connector, systems


def test_the_entry_point_registers_the_built_in_connectors() -> None:
    assert set(systems()) >= {"hubspot", "mautic"}
    assert connector("hubspot").hook is HubSpotHook and connector("mautic").hook is MauticHook
    assert "form_submissions" in connector("hubspot").objects


def test_an_unknown_system_names_the_known_ones_and_is_not_retried() -> None:
    with pytest.raises(
        SmarketingError, match=r"unknown API source system 'salesforce' \(systems: .*hubspot"
    ) as raised:
        api_tasks([{"system": "salesforce"}])
    # A typo in the sources fails the task at once: retrying with back-off would only delay the message.
    assert retry_cannot_fix(raised.value)


@pytest.mark.parametrize(
    ("system", "entry", "problem"),
    [
        ("hubspot", {"objects": ["contacts", "tickets"]}, r"hubspot: unknown object\(s\) \['tickets'\]"),
        ("mautic", {"page_limit": 500}, "mautic: page_limit must be 1..200, not 500"),
    ],
)
def test_bad_entries_fail_the_same_way_for_every_connector(system: str, entry: dict, problem: str) -> None:
    with pytest.raises(SmarketingError, match=f"{system}: bad source configuration: {problem}"):
        source_settings(system, {"system": system, **entry}, None)


def test_the_entry_wins_over_the_connection_extra_and_empty_form_fields_are_defaults() -> None:
    extra = {"page_limit": None, "lag_seconds": 30, "rate_limits": {"search": [4, 1]}}
    settings = source_settings("hubspot", {"system": "hubspot", "lag_seconds": 5}, extra)
    assert settings.page_limit == 200 and settings.lag_s == 5.0
    assert settings.limits["search"] == RateLimit(4, 1.0) and settings.limits["general"] == RateLimit(190, 10)


def test_side_by_side_tasks_split_the_rate_limits() -> None:
    settings = source_settings("hubspot", {"system": "hubspot", "limit_share": 0.5}, None)
    assert settings.limits == {"general": RateLimit(95, 10), "search": RateLimit(2, 1)}
