"""E-mail masking: every spelling of an address in text a person will read."""

from __future__ import annotations

import pytest

from smarketing.privacy import mask_emails, safe_value


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("owner john.doe@acme.com failed", "owner ***@acme.com failed"),
        ('{"email": "john@acme.com"}', '{"email": "***@acme.com"}'),
        ("<john@acme.com>", "<***@acme.com>"),
        # URL-encoded in a query string, once and twice
        ("GET /contacts?search=john%40acme.com&limit=1", "GET /contacts?search=***@acme.com&limit=1"),
        ("search=john%2540acme.com", "search=***@acme.com"),
        # JSON and Python escapes, as an API error text quotes its request
        ('{"detail": "john\\u0040acme.com exists"}', '{"detail": "***@acme.com exists"}'),
        ("'john\\x40acme.com'", "'***@acme.com'"),
        ("john\\\\u0040acme.com", "***@acme.com"),
        # HTML entities
        ("john&#64;acme.com", "***@acme.com"),
        ("john&#x40;acme.com", "***@acme.com"),
        ("john&commat;acme.com", "***@acme.com"),
        # full-width at sign
        ("john\uff20acme.com", "***@acme.com"),
        # written out by a person
        ("mail john [at] acme.com today", "mail ***@acme.com today"),
        ("john(at)acme.co.uk", "***@acme.co.uk"),
    ],
)
def test_every_spelling_of_an_address_is_masked(text: str, masked: str) -> None:
    assert mask_emails(text) == masked
    assert "john" not in mask_emails(text, keep_domain=False)


def test_text_without_addresses_is_unchanged() -> None:
    for text in ("meet [at] noon", "50% off", "a&b", "price @ 10", "tom&jerry;", "100%40"):
        assert mask_emails(text) == text


def test_safe_value_masks_before_it_cuts() -> None:
    value = "x" * 40 + " jane%40example.org " + "y" * 40
    shown = safe_value(value)
    assert "jane" not in shown and len(shown) == 60


@pytest.mark.timeout(20)
def test_a_long_run_without_an_address_is_scanned_once() -> None:
    """A 200k-character token (a base64 blob in a cell) is no address; the scan must not retry from
    each of its positions (quadratic: minutes at this length before the fix; a hang guard, not a timer)."""
    blob = "QUJD" * 50_000
    assert mask_emails(blob) == blob
    assert mask_emails(blob + " bob%40example.org") == blob + " ***@example.org"
