"""Keeping e-mail addresses out of log lines, exceptions and alerts.

Source values, API error texts and mail-server replies can all quote an address; everything that
shows such text to a person goes through here first.
"""

from __future__ import annotations

import re

# Quotes, commas and angle brackets end an address: they surround one in CSV rows, JSON and SMTP replies.
_ADDRESS = re.compile(r"[^\s@'\",;<>]+@([^\s@'\",;<>]+)")


def mask_emails(text: str, *, keep_domain: bool = True) -> str:
    """`text` with every e-mail address replaced: by `***@domain` (the company is not personal and
    helps a reader place the row), or by `<address>` when even the domain must not show."""
    if keep_domain:
        return _ADDRESS.sub(lambda m: f"***@{m.group(1)}", text)
    return _ADDRESS.sub("<address>", text)


def safe_value(value: str, limit: int = 60) -> str:
    """A source value fit for a log line: e-mail addresses masked, length capped."""
    masked = mask_emails(value)
    return masked if len(masked) <= limit else masked[: limit - 3] + "..."
