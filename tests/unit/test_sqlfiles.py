"""Statements read by name from sql/<capability>/ (smarketing.sqlfiles)."""

from __future__ import annotations

import re
import string

import pytest
from psycopg import sql

from smarketing.paths import PROJECT_ROOT, SQL_DIR
from smarketing.sqlfiles import composed, statement

QUALITY_FILES = sorted((SQL_DIR / "quality").glob("*.sql"))
QUALITY_CODE = "\n".join(
    p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "include" / "smarketing" / "quality").glob("*.py")
)


def test_a_statement_is_read_by_capability_and_name() -> None:
    text = statement("quality", "supersede")
    assert text == (SQL_DIR / "quality" / "supersede.sql").read_text(encoding="utf-8")
    assert "UPDATE dq.quarantine" in text


def test_a_missing_statement_names_its_file() -> None:
    with pytest.raises(FileNotFoundError, match=r"sql/quality/no_such_statement\.sql"):
        statement("quality", "no_such_statement")


@pytest.mark.parametrize("path", QUALITY_FILES, ids=lambda p: p.stem)
def test_every_quality_statement_is_used_and_fills_its_placeholders(path) -> None:
    # Used by name from the quality package: no file outlives the code that ran it.
    assert re.search(rf'"quality",\s*"{path.stem}"', QUALITY_CODE), f"{path.name} is not used"
    fields = {f for _, f, _, _ in string.Formatter().parse(statement("quality", path.stem)) if f}
    filled = composed("quality", path.stem, **{f: sql.Identifier("x") for f in fields})
    assert "{" not in filled.as_string(None)


SLA_SCORING_FILES = sorted([*(SQL_DIR / "sla").glob("*.sql"), *(SQL_DIR / "scoring").glob("*.sql")])


@pytest.mark.parametrize("path", SLA_SCORING_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sla_and_scoring_statement_is_used_and_fills_its_placeholders(path) -> None:
    capability = path.parent.name
    # every module of the capability, its subpackages too (scoring/calibrate)
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (PROJECT_ROOT / "include" / "smarketing" / capability).rglob("*.py")
    )
    assert re.search(rf'"{capability}",\s*"{path.stem}"', code), f"{path.name} is not used"
    fields = {f for _, f, _, _ in string.Formatter().parse(statement(capability, path.stem)) if f}
    filled = composed(capability, path.stem, **{f: sql.Identifier("x") for f in fields})
    assert "{" not in filled.as_string(None)
