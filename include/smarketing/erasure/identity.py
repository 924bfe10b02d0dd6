"""How an erasure names a person: the normalised address, or its sha256, never the address in logs."""

from __future__ import annotations

import hashlib
import re

from smarketing.errors import SmarketingError

# The core build's test of a usable address (sql/core/030_leads.sql), so both agree on who is a lead.
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ErasureRequestError(SmarketingError):
    """An erasure asked with neither a usable address nor a sha256 of one."""

    exit_code = 2


def normalise_email(address: str) -> str:
    """The address as the warehouse keys leads: trimmed and lower-cased.

    Raises ErasureRequestError (without quoting the address) when it is not one.
    """
    normalised = address.strip().lower()
    if not _ADDRESS.match(normalised):
        raise ErasureRequestError("the value given as --email is not an e-mail address")
    return normalised


def sha256_hex(text: str) -> str:
    """Hex sha256 of a text as UTF-8: the warehouse's `ops.sha256_hex`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(address: str) -> str:
    """The hash an erasure is recorded and suppressed under: sha256 of the normalised address."""
    return sha256_hex(normalise_email(address))


def person_hash(*, email: str | None = None, email_sha256: str | None = None) -> str:
    """The hash of the person asked about, from exactly one of an address or its hash.

    Args:
        email: the address in any case and spacing.
        email_sha256: hex sha256 of the trimmed, lower-cased address (what `smarketing privacy hash`
            prints), for requests that must not carry the address (an Airflow run's conf is stored).

    Returns:
        64 lower-case hex digits.
    """
    if (email is None) == (email_sha256 is None):
        raise ErasureRequestError("give exactly one of an e-mail address or its sha256")
    if email is not None:
        return email_hash(email)
    digest = (email_sha256 or "").strip().lower()
    if not _SHA256.match(digest):
        raise ErasureRequestError("the sha256 given is not 64 hexadecimal digits")
    return digest
