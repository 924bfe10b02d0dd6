"""The agreement's one regex dialect: what it accepts, how PostgreSQL is told, and that RE2 runs it."""

from __future__ import annotations

import pandas as pd
import pytest

from smarketing.config.patterns import check_pattern, pattern_hits, postgres_pattern
from smarketing.warehouse.core_build import match_personas

CATASTROPHIC = r"^(a+)+$"
TITLE_34 = "a" * 33 + "!"  # Python's re backtracks through 2^33 ways to split the a's


@pytest.mark.parametrize(
    ("pattern", "in_postgres"),
    [
        (r"/pricing(/|$)", r"/pricing(/|$)"),
        (r"(?i)^chief", r"(?i)^chief"),
        (r"\d{3,}", r"[0-9]{3,}"),
        (r"[\w.-]+@", r"[0-9A-Za-z_.-]+@"),
        (r"[^\d]", r"[^0-9]"),
        (r"a.b", r"a[^\n]b"),
        (r"[[:alpha:]]x", r"[A-Za-z]x"),
        (r"a\.b\{2\}", r"a\.b\{2\}"),
        (r"[]a]", r"[]a]"),
        (r"(?:ab)+?c", r"(?:ab)+?c"),
        (r"x{2,255}", r"x{2,255}"),
        (CATASTROPHIC, CATASTROPHIC),
    ],
)
def test_dialect_patterns_and_their_postgres_spelling(pattern: str, in_postgres: str) -> None:
    assert check_pattern(pattern) == pattern
    assert postgres_pattern(pattern) == in_postgres


def test_word_boundary_is_spelled_out_in_ascii_for_postgres() -> None:
    # PostgreSQL's \y counts the locale's letters as word characters, RE2's \b only ASCII ones.
    spelled = postgres_pattern(r"(?i)\bcto\b")
    assert spelled.startswith("(?i)(?:(?<![0-9A-Za-z_])(?=[0-9A-Za-z_])|")
    assert r"\b" not in spelled and r"\y" not in spelled


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(?P<p>/pricing)", "a named group is not part of the agreement's regex dialect"),
        (r"(?<p>x)", "a named group"),
        (r"(?=x)y", "a lookaround"),
        (r"(?<!cto-)ish", "a lookaround"),
        (r"(a)\1", r"the backreference or octal escape \1"),
        (r"a*+", "the possessive quantifier *+"),
        (r"a++b", "the possessive quantifier ++"),
        (r"(?i:cto)", "an inline flag group"),
        (r"x(?i)y", "an inline flag group"),
        (r"(?s)a.b", "an inline flag group"),
        (r"\pL", r"the escape \p"),
        (r"\Qa.b\E", r"the escape \Q"),
        (r"end\z", "use $ for the end"),
        (r"\x41", r"the escape \x"),
        (r"[\D]", r"the escape \D inside [...]"),
        (r"[[:punct:]]", "the class [:punct:]"),
        (r"a{256}", "counts go up to 255"),
        (r"x{", r"write a literal brace as \{"),
        (r"(unclosed", "invalid regular expression: missing )"),
        ("trailing\\", "invalid regular expression: trailing"),
    ],
)
def test_patterns_outside_the_dialect_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_pattern(pattern)
    assert message in str(caught.value)


def test_pattern_hits_reads_values_as_text_and_missing_as_no_match() -> None:
    values = pd.Series(["CTO", None, "Chef", 5, float("nan")], dtype=object)
    assert pattern_hits(values, r"(?i)^c|5").tolist() == [True, False, True, True, False]
    assert pattern_hits(pd.Index([], dtype=object), "x").tolist() == []


@pytest.mark.timeout(60)  # a hang guard: Python's re needs about a quarter of an hour here
def test_catastrophic_persona_pattern_cannot_stall_persona_matching() -> None:
    assert check_pattern(CATASTROPHIC) == CATASTROPHIC  # linear on RE2, so the agreement may keep it
    personas = [
        _persona("runaway", CATASTROPHIC),
        _persona("it_leader", r"(?i)\b(cto|cio|head of it)\b"),
    ]
    titles = pd.Series([TITLE_34, "aaaa", "Head of IT", None, TITLE_34] * 1000)
    chosen = match_personas(titles, personas)
    assert chosen[:5].tolist() == [None, "runaway", "it_leader", None, None]
    assert chosen.index.equals(titles.index) and chosen.isna().sum() == 3000


def test_persona_matching_takes_the_first_persona_in_order() -> None:
    personas = [_persona("executive", r"(?i)^chief"), _persona("it_leader", r"(?i)\bcto\b")]
    titles = pd.Series(["Chief CTO", "CTO", "cto-ish", "Chief"], index=[10, 11, 12, 13])
    assert match_personas(titles, personas).tolist() == ["executive", "it_leader", "it_leader", "executive"]
    assert match_personas(pd.Series([None, None], dtype=object), personas).tolist() == [None, None]


def _persona(persona_id: str, regex: str) -> object:
    from types import SimpleNamespace

    return SimpleNamespace(id=persona_id, match=SimpleNamespace(job_title_regex=regex))


def test_quality_settings_regexes_follow_the_same_dialect() -> None:
    from datetime import UTC, datetime

    from smarketing.config import load_config
    from smarketing.quality.checks import Context, raw_checks
    from smarketing.quality.settings import QualityConfigError, parse_settings

    def settings(regex: str) -> dict[str, object]:
        check = {"id": "product_code", "field": "attributes.code", "regex": regex}
        return {"sources": {"crm": {"deals": [check]}}}

    with pytest.raises(QualityConfigError) as caught:
        parse_settings(settings("(?P<code>GTX)"))
    assert "sources.crm.deals[0].regex" in str(caught.value) and "a named group" in str(caught.value)
    ctx = Context.from_agreement(parse_settings(settings(r"^GTX\d+")), load_config(), datetime.now(UTC))
    check = next(c for c in raw_checks("deals", "crm", ctx) if c.check_id == "product_code")
    assert check.kwargs["regex"] == "^GTX[0-9]+"  # Great Expectations runs it in PostgreSQL
