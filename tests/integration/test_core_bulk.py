"""A bulk fold checks core's foreign keys once per reference; it builds the same core and fails the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from smarketing.paths import CORE_SQL_DIR
from smarketing.warehouse import core_build
from smarketing.warehouse.core_build import build_core

from .test_core_build import AGREEMENT, reset, snapshot
from .test_file_ingest import ingest_world, write_world

pytestmark = pytest.mark.integration


def foreign_keys(dsn: str) -> list[tuple[str, str, str, bool]]:
    """Every foreign key of core: table, name, definition, validated."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
            FROM pg_constraint WHERE contype = 'f' AND connamespace = 'core'::regnamespace ORDER BY 1, 2
            """
        ).fetchall()
    return [tuple(r) for r in rows]


def test_bulk_fold_builds_the_same_core_and_keeps_every_foreign_key(
    clean_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = write_world(tmp_path)
    before = foreign_keys(clean_warehouse)
    assert len(before) >= 10  # events, activities, deals, lifecycle, sources, segments, ...

    ingest_world(clean_warehouse, world)
    per_row: dict[str, float] = {}
    build_core(clean_warehouse, AGREEMENT, timings=per_row)
    assert "foreign_keys" not in per_row  # a few dozen rows: checked row by row
    expected = snapshot(clean_warehouse)

    reset(clean_warehouse)
    monkeypatch.setattr(core_build, "BULK_MIN_ROWS", 1)
    ingest_world(clean_warehouse, world)
    bulk: dict[str, float] = {}
    build_core(clean_warehouse, AGREEMENT, timings=bulk)
    assert "foreign_keys" in bulk  # a first fold into an empty core: checked once per reference
    assert snapshot(clean_warehouse) == expected
    # ...and analyzed, so the next (hourly) fold plans against the rows core now holds
    assert "analyze" in bulk and "analyze" not in per_row
    with psycopg.connect(clean_warehouse) as conn:
        counted, estimated = conn.execute(
            "SELECT (SELECT count(*) FROM core.marketing_events),"
            " (SELECT reltuples FROM pg_class WHERE oid = 'core.marketing_events'::regclass)"
        ).fetchone()
    assert counted > 0 and estimated == counted
    assert foreign_keys(clean_warehouse) == before  # same names and definitions, all validated

    # The next small fold, against a core of the same size, is no bulk fold: BULK_SHARE of core's rows.
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute("ANALYZE")
    again: dict[str, float] = {}
    build_core(clean_warehouse, AGREEMENT, timings=again)
    assert "foreign_keys" not in again


def test_bulk_fold_with_a_broken_reference_fails_and_changes_nothing(
    clean_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = tmp_path / "steps"
    shutil.copytree(CORE_SQL_DIR, steps)
    # A step that writes an event of a lead that does not exist (what a bug in a step would do).
    (steps / "099_broken.sql").write_text(
        "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, source_system)\n"
        "VALUES ('x:1', -1, 'email_open', now(), 'x');\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(core_build, "BULK_MIN_ROWS", 1)
    before = foreign_keys(clean_warehouse)
    ingest_world(clean_warehouse, write_world(tmp_path / "world"))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="marketing_events_lead_id_fkey"):
        build_core(clean_warehouse, AGREEMENT, sql_dir=steps)
    assert foreign_keys(clean_warehouse) == before
    with psycopg.connect(clean_warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM core.leads").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ops.core_builds").fetchone()[0] == 0
