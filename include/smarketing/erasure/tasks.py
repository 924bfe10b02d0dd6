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
from smarketing.tasklog import count, moment, summary


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
    person = f"person {result.email_sha256[:12]}…"  # the hash's prefix, as ops.erasures keys it
    if not result.changed:
        summary(f"{person}: nothing of theirs left to erase")
    else:
        summary(
            f"{person}: {count(result.leads, 'lead')} and {count(result.source_records, 'source record')} "
            f"erased, {count(sum(result.rows.values()), 'row')} changed"
            + ("; deleted at the sources" if result.at_source else "")
        )
    return result.summary()


def purge_step(dsn: str, settings: RetentionSettings, *, as_of: datetime) -> dict[str, int]:
    """The retention purge at `as_of`; rows deleted per table."""
    deleted = purge(dsn, settings, as_of=as_of)
    parts = [f"{count(n)} {table}" for table, n in sorted(deleted.items()) if n]
    summary(
        f"retention purge as of {moment(as_of)}: "
        + (", ".join(parts) + " deleted" if parts else "nothing past its age")
    )
    return deleted
