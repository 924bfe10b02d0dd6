"""Privacy operations without a database: how a person is named (address or hash), the agreement's
retention settings and their errors, and the pattern the scrub matches addresses with."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarketing.config import check_config, load_config
from smarketing.erasure.identity import ErasureRequestError, email_hash, normalise_email, person_hash
from smarketing.erasure.scrub import address_pattern
from smarketing.erasure.settings import RetentionSettings, retention_from_agreement
from smarketing.paths import CONFIG_DIR


def test_the_hash_is_sha256_of_the_trimmed_lower_cased_address() -> None:
    expected = hashlib.sha256(b"jane.doe@example.com").hexdigest()
    assert email_hash("  Jane.Doe@EXAMPLE.com\n") == expected
    assert person_hash(email="jane.doe@example.com") == expected
    assert person_hash(email_sha256=expected.upper()) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"email": "a@b.example", "email_sha256": "0" * 64}, "exactly one"),
        ({"email": "jane.doe[at]example.com"}, "not an e-mail address"),
        ({"email_sha256": "abc"}, "64 hexadecimal"),
    ],
)
def test_a_request_naming_nobody_is_refused_without_quoting_it(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ErasureRequestError, match=message) as caught:
        person_hash(**kwargs)
    assert "jane" not in str(caught.value)
    assert ErasureRequestError.exit_code == 2


def test_normalising_matches_the_core_build() -> None:
    assert normalise_email(" A.B@C.Example ") == "a.b@c.example"
    with pytest.raises(ErasureRequestError):
        normalise_email("a@b")  # the core build's rule: a dot in the domain


def agreement_with(tmp_path: Path, privacy: Any) -> list[str]:
    data = yaml.safe_load((CONFIG_DIR / "smarketing.yaml").read_text(encoding="utf-8"))
    data["privacy"] = privacy
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return check_config(path)


def test_the_sample_agreement_keeps_raw_400_days_and_quarantine_90() -> None:
    assert retention_from_agreement(load_config()) == RetentionSettings(raw_days=400, quarantine_days=90)


@pytest.mark.parametrize(
    ("privacy", "key_path", "message"),
    [
        ({"retention_days": {"raw": 0}}, "privacy.retention_days.raw", "at least 1"),
        ({"retention_days": {"quarantine": "90"}}, "privacy.retention_days.quarantine", "whole number"),
        ({"retention_days": {"raw": 99999}}, "privacy.retention_days.raw", "at most"),
        (
            {"retention_days": {"quarantin": 3}},
            "privacy.retention_days.quarantin",
            "did you mean 'quarantine'",
        ),
        ({"retention": {}}, "privacy.retention", "unknown key"),
    ],
)
def test_config_check_names_a_bad_retention_by_key_path(
    tmp_path: Path, privacy: Any, key_path: str, message: str
) -> None:
    problems = [p for p in agreement_with(tmp_path, privacy) if p.startswith(f"{key_path}:")]
    assert len(problems) == 1 and message in problems[0], problems


def test_retention_left_out_keeps_everything(tmp_path: Path) -> None:
    assert agreement_with(tmp_path, {"retention_days": {}}) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("write to ann@x.example today", True),
        ("ANN@X.EXAMPLE", True),
        ('{"email": "Ann@x.example"}', True),
        ("mailto:ann%40x.example", True),
        ("joann@x.example", False),
        ("ann@x.example.org", False),
        ("ann@x.examples", False),
        ("ann@x.example.", True),
    ],
)
def test_the_scrub_matches_an_address_only_where_it_is_whole(text: str, found: bool) -> None:
    pattern = address_pattern(["ann@x.example"])
    assert pattern is not None
    # PostgreSQL's lookbehind and [[:alnum:]] classes, in Python's dialect, for a database-free check
    python = pattern.replace("[[:alnum:]", "[a-zA-Z0-9")
    assert bool(re.search(python, text, re.IGNORECASE)) is found
    assert address_pattern([]) is None
