"""Keeping e-mail addresses out of log lines, exceptions and alerts.

Source values, API error texts and mail-server replies can all quote an address; everything that
shows such text to a person goes through here first. Addresses also arrive encoded: URL-encoded in
query strings (`john%40acme.com`), JSON- or Python-escaped (`john\\u0040acme.com`), as HTML
entities (`john&#64;acme.com`), and written out by people (`john [at] acme.com`); each of these
spellings of the `@` counts as one.
"""

from __future__ import annotations

import re

# Quotes, commas, angle brackets and ampersands end an address: they surround one in CSV rows, JSON,
# SMTP replies and HTML. A local part also starts after `=`, `?`, `:`, `/` or a bracket (a query
# string, `mailto:`, a path), which addresses in practice never hold.
_LOCAL_CHAR = r"[^\s@'\",;<>&=?:/()\[\]{}]"
# A local part starts where a run of its characters starts: without that anchor the engine retries
# from every position of a long run (a base64 blob, a hash), which is quadratic in its length.
_LOCAL = rf"(?<!{_LOCAL_CHAR}){_LOCAL_CHAR}+"
_PART = r"[^\s@'\",;<>&]+"
# The `@` as written in text, URL-encoded (once or twice), escaped, as an HTML entity, full-width.
_AT = r"(?:@|%(?:25)?40|\\+u0040|\\+x40|&#0*64;|&#x0*40;|&commat;|\uff20)"
# Written out by a person: `[at]`, `(at)`, `{at}`, with or without spaces; the domain needs a dot.
_SPELLED_AT = r"\s*[\[({]\s*at\s*[\])}]\s*"
_ADDRESS = re.compile(
    rf"{_LOCAL}(?:{_AT}(?P<domain>{_PART})|{_SPELLED_AT}(?P<spelled>[\w-]+(?:\.[\w-]+)+))",
    re.IGNORECASE,
)


def mask_emails(text: str, *, keep_domain: bool = True) -> str:
    """`text` with every e-mail address replaced.

    Args:
        text: any text that may quote addresses, in any of the encodings above.
        keep_domain: replace an address by `***@domain` (the company is not personal and helps a
            reader place the row); False replaces it by `<address>`, when even the domain must not show.

    Returns:
        The text with each address masked; everything else unchanged.
    """
    if keep_domain:
        return _ADDRESS.sub(lambda m: f"***@{m.group('domain') or m.group('spelled')}", text)
    return _ADDRESS.sub("<address>", text)


def safe_value(value: str, limit: int = 60) -> str:
    """A source value fit for a log line: e-mail addresses masked, length capped."""
    masked = mask_emails(value)
    return masked if len(masked) <= limit else masked[: limit - 3] + "..."
