"""The Python vocabularies agree with the foundation migration and with each other."""

from __future__ import annotations

import re

import pytest

from smarketing.paths import MIGRATIONS_DIR
from smarketing.vocabulary import (
    ACTIVITY_TYPES,
    CANONICAL_OBJECTS,
    COMPANY_COLUMNS,
    EVENT_TYPES,
    LEAD_COLUMNS,
    LIFECYCLE_STAGES,
    TOUCH_ACTIVITY_TYPES,
)

FOUNDATION = (MIGRATIONS_DIR / "versions" / "0001_foundation.sql").read_text(encoding="utf-8")


def seeded(table: str) -> set[str]:
    """First values of the rows the migrations insert into `table` (the foundation seeds it, later
    migrations may add rows)."""
    pattern = rf"INSERT INTO {re.escape(table)} \([^)]*\) VALUES(.*?);$"
    found: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.sql")):
        for match in re.finditer(pattern, path.read_text(encoding="utf-8"), re.S | re.M):
            found |= set(re.findall(r"^\s*\('([a-z_]+)'", match.group(1), re.M))
    assert found, f"no seed rows for {table} in the migrations"
    return found


def columns(table: str) -> set[str]:
    match = re.search(rf"CREATE TABLE {re.escape(table)} \((.*?)\n\);", FOUNDATION, re.S)
    assert match, f"no CREATE TABLE {table} in the foundation migration"
    return set(re.findall(r"^\s{4}([a-z_]+)\s", match.group(1), re.M))


def test_event_types_match_the_migration_seed() -> None:
    assert seeded("core.event_types") == EVENT_TYPES


def test_activity_types_match_the_migration_seed() -> None:
    assert seeded("core.activity_types") == ACTIVITY_TYPES


def test_touches_are_activities_that_reach_the_lead() -> None:
    assert TOUCH_ACTIVITY_TYPES < ACTIVITY_TYPES
    assert {"note", "task"} == ACTIVITY_TYPES - TOUCH_ACTIVITY_TYPES


def test_lifecycle_stages_in_funnel_order() -> None:
    assert LIFECYCLE_STAGES == (
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "nurturing",
        "disqualified",
        "other",
    )


def test_canonical_objects_are_the_raw_tables() -> None:
    raw_tables = re.search(r"FOREACH obj IN ARRAY ARRAY\[(.*?)\]", FOUNDATION)
    assert raw_tables
    assert tuple(re.findall(r"'([a-z_]+)'", raw_tables.group(1))) == CANONICAL_OBJECTS


@pytest.mark.parametrize(
    ("table", "expected"), [("core.leads", LEAD_COLUMNS), ("core.companies", COMPANY_COLUMNS)]
)
def test_scoring_columns_are_the_table_columns_but_attributes(table: str, expected: frozenset[str]) -> None:
    assert columns(table) - {"attributes"} == expected
