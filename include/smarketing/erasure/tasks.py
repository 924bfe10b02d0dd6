"""The privacy DAG's steps: plain functions taking the warehouse DSN and returning JSON-able summaries
(hashes and counts, never an address)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from smarketing.erasure.person import erase_person
from smarketing.erasure.retention import purge
from smarketing.erasure.settings import RetentionSettings
from smarketing.erasure.source import erase_at_source


def requested(params: Mapping[str, Any]) -> bool:
    """Whether a run's params ask for an erasure (an address or a hash given)."""
    return bool((params.get("email") or "").strip() or (params.get("email_sha256") or "").strip())


def erase_step(dsn: str, params: Mapping[str, Any], *, run_id: str) -> dict[str, Any]:
    """Erase the person the params name (`email` or `email_sha256`; `erase_at_source` asks the sources).

    Returns the erasure's summary: the hash and what changed.
    """
    email = (params.get("email") or "").strip() or None
    digest = (params.get("email_sha256") or "").strip() or None
    result = erase_person(
        dsn,
        email=email,
        email_sha256=digest,
        requested_by=run_id,
        at_source=erase_at_source if params.get("erase_at_source") else None,
    )
    return result.summary()


def purge_step(dsn: str, settings: RetentionSettings, *, as_of: datetime) -> dict[str, int]:
    """The retention purge at `as_of`; rows deleted per table."""
    return purge(dsn, settings, as_of=as_of)
