"""The Python vocabularies equal what the migrated warehouse holds."""

from __future__ import annotations

import psycopg
import pytest

from smarketing.vocabulary import (
    ACTIVITY_TYPES,
    CANONICAL_OBJECTS,
    COMPANY_COLUMNS,
    EVENT_TYPES,
    LEAD_COLUMNS,
)

pytestmark = pytest.mark.integration


def values(db: psycopg.Connection, query: str) -> set[str]:
    return {row[0] for row in db.execute(query).fetchall()}


def test_event_types_equal_core_event_types(db: psycopg.Connection) -> None:
    assert values(db, "SELECT event_type FROM core.event_types") == EVENT_TYPES


def test_activity_types_equal_core_activity_types(db: psycopg.Connection) -> None:
    assert values(db, "SELECT activity_type FROM core.activity_types") == ACTIVITY_TYPES


def test_every_canonical_object_has_a_raw_table(db: psycopg.Connection) -> None:
    tables = values(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'raw'")
    assert set(CANONICAL_OBJECTS) <= tables


@pytest.mark.parametrize(("table", "expected"), [("leads", LEAD_COLUMNS), ("companies", COMPANY_COLUMNS)])
def test_scoring_columns_exist_in_core(db: psycopg.Connection, table: str, expected: frozenset[str]) -> None:
    found = values(
        db,
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = '{table}'",
    )
    # Later migrations may add columns; every column a scoring rule may name must exist.
    assert expected <= found - {"attributes"}
