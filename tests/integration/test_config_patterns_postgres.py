"""One regex dialect: every pattern the agreement accepts means the same in RE2 and in PostgreSQL.

The page filter of an engagement rule runs in PostgreSQL while events stream out (`~` with the
pattern's `postgres_pattern` spelling) and in RE2 for events read from files; persona and fit
patterns run in RE2. These tests hold the two engines against each other on texts chosen to catch
the known differences (locale letters, line breaks, word boundaries, case folding).
"""

from __future__ import annotations

import psycopg
import pytest

from smarketing.config.patterns import check_pattern, pattern_hits, postgres_pattern

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
