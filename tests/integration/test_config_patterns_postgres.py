"""One regex dialect: every pattern the agreement accepts means the same in RE2 and in PostgreSQL.

The page filter of an engagement rule runs in PostgreSQL while events stream out (`~` with the
pattern's `postgres_pattern` spelling) and in RE2 for events read from files; persona and fit
patterns run in RE2; an extra check of config/quality.yaml runs in Great Expectations on PostgreSQL.
These tests hold the two engines against each other on texts chosen to catch
the known differences (locale letters, line breaks, word boundaries, case folding).
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
import yaml

from smarketing.config.patterns import check_pattern, pattern_hits, postgres_pattern
from smarketing.paths import CONFIG_DIR
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import parse_settings
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import land_batch

pytestmark = pytest.mark.integration

TEXTS = [
    "",
    "CTO",
    "cto",
    "Head of IT",
    "the cto-ish one",
    "café",
    "caféx",
    "ÉCOLE",
    "école x",
    "a\nb",
    "a b",
    "ab",
    "/pricing",
    "/pricing/enterprise",
    "/pricingx",
    "aaaa",
    "a" * 33 + "!",
    "x_y",
    "x-y",
    "2026",
    "tab\there",
    "A{2}",
    "dead BEEF",
]
PATTERNS = [
    r"(?i)\bcto\b",
    r"\bx",
    r"x\B",
    r"é\b",
    r"\w+$",
    r"^\W",
    r"\s",
    r"^\S+$",
    r"(?i)[[:upper:]]",
    r"^[[:lower:]]+$",
    r"[[:alpha:]]$",
    r"[[:space:]]",
    r"[[:blank:]]",
    r"[[:xdigit:]]{4}",
    r"(?i)école",
    r"[^a]b",
    r"a.b",
    r"^$",
    r"a|",
    r"\A/pricing(/|$)",
    r"(?i)^[a-c]{2}",
    r"\d\d",
    r"[\s\d]",
    r"^(a+)+$",
    r"A\{2\}",
    r"(?:ab)+?",
    r"[]x]",
    r"^[^\n]*$",
    r"(?i)beef",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_re2_and_postgres_agree_on_every_text(db: psycopg.Connection, pattern: str) -> None:
    check_pattern(pattern)
    in_postgres = db.execute(
        "SELECT array_agg(t ~ %s ORDER BY i) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i)",
        (postgres_pattern(pattern), TEXTS),
    ).fetchone()[0]
    in_re2 = pattern_hits(TEXTS, pattern).tolist()
    disagreements = [text for text, a, b in zip(TEXTS, in_re2, in_postgres, strict=True) if a != b]
    assert not disagreements, f"{pattern!r}: RE2 and PostgreSQL differ on {disagreements}"
    assert any(in_re2), f"{pattern!r} matches none of the texts: the comparison proves little"


def test_a_quality_check_regex_reaches_great_expectations_in_postgres_spelling(
    clean_warehouse: str, tmp_path: Path
) -> None:
    # `\w` is ASCII in the dialect; PostgreSQL's own \w (C.UTF-8) would call "café" a word.
    settings = yaml.safe_load((CONFIG_DIR / "quality.yaml").read_text(encoding="utf-8"))
    settings["data_docs"].update(dir=str(tmp_path / "docs"), project_dir=str(tmp_path / "gx"))
    check = {"id": "code_is_one_word", "field": "attributes.code", "regex": r"^\w+$", "severity": "warning"}
    settings["sources"] = {"crm": {"companies": [check]}}
    codes = ["GTX1", "café", "two words", "B_2"]
    payloads = [
        json.dumps({"name": f"Co {i}", "employees": 10, "attributes": {"code": code}})
        for i, code in enumerate(codes)
    ]
    rows = pa.table({"source_id": [f"c{i}" for i in range(len(codes))], "payload": payloads})
    with connect(clean_warehouse, autocommit=True) as conn:
        assert land_batch(conn, source_system="crm", object="companies", origin="x", rows=[rows]) is not None

    report = validate_raw(clean_warehouse, run_id="dialect", settings=parse_settings(settings))

    assert report.success
    (warning,) = [w for w in report.warnings if "code_is_one_word" in w]
    assert "failed for 2 of 4 row(s)" in warning and "e.g. crm:c1, crm:c2" in warning  # café, two words
