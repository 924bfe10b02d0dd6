"""Erasing one person: every row about them deleted or anonymised, in one transaction.

What happens to each kind of row (docs/privacy.md has the table):

* landed records of the person (raw contacts, their events, activities, stage changes, segment
  memberships) and their quarantined copies are deleted;
* their leads stay, anonymised (no address, domain, job title or attributes) and deleted from now on:
  scores, SLA clocks, nurture ledgers and KPI aggregates keep counting them by opaque id, nothing acts on
  them again; their folded source records keep only dates, stage, consent and references;
* events and activities keep type, time and campaign but lose their free attributes; the scoring change
  log and the CRM write-back state of the person go;
* any address of the person still written in free text anywhere is replaced (`scrub`);
* the hashes of their addresses and records join the suppression list, which landing honours.

Sources are asked first (when asked at all): if one refuses, nothing changes here and the erasure can be
retried whole. A rerun finds nothing and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from smarketing.erasure import scrub
from smarketing.erasure.identity import ErasureRequestError, person_hash, sha256_hex
from smarketing.sqlfiles import composed, statement
from smarketing.warehouse.suppression import PERSON_KEYS

log = logging.getLogger(__name__)

# What a folded contact record keeps once its person is erased (sql/erasure/lead_sources.sql).
KEPT_FIELDS = (
    "country", "company_source_id", "lifecycle_stage", "owner_source_id", "owner_assigned_at",
    "created_at", "updated_at", "consent_email", "unsubscribed_at", "merged_source_ids",
)  # fmt: skip
ATTRIBUTE_TABLES = ("core.marketing_events", "core.sales_activities")
BY_LEAD_TABLES = ("scoring.event_changes", "scoring.writeback_state")

SourceEraser = Callable[[Iterable[tuple[str, str]]], dict[str, Any]]


@dataclass(frozen=True)
class Erasure:
    """What one erasure did. `rows` counts rows deleted or anonymised per table."""

    email_sha256: str
    leads: int
    source_records: int
    rows: dict[str, int] = field(default_factory=dict)
    at_source: dict[str, Any] = field(default_factory=dict)
    already_erased: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.leads or self.source_records or any(self.rows.values()))

    def summary(self) -> dict[str, Any]:
        """JSON-ready: hash, counts, sources; never an address."""
        return {
            "email_sha256": self.email_sha256,
            "leads": self.leads,
            "source_records": self.source_records,
            "rows": self.rows,
            "at_source": self.at_source,
            "already_erased": self.already_erased,
            "changed": self.changed,
        }


# Each round adds the leads and records of the addresses the last one found (merged aliases, and the
# leads those addresses key); a person is rarely more than two rounds wide.
MAX_ROUNDS = 10


def _find(conn: psycopg.Connection, digest: str) -> tuple[list[tuple[str, str]], int, list[str]]:
    """Fill the session's _erase_records, _erase_leads and _erase_addresses for the person, following
    merges and shared addresses until nothing new turns up."""
    hashes = {digest}
    for _ in range(MAX_ROUNDS):
        conn.execute("DROP TABLE IF EXISTS _erase_records, _erase_leads, _erase_addresses")
        for name in ("find_records", "find_leads", "find_addresses"):
            conn.execute(statement("erasure", name), {"hashes": sorted(hashes)})
        addresses = [a for (a,) in conn.execute("SELECT email FROM _erase_addresses")]
        found = hashes | {sha256_hex(a) for a in addresses}
        if found == hashes:
            break
        hashes = found
    else:
        raise ErasureRequestError(f"the person's records did not close after {MAX_ROUNDS} rounds of merges")
    records = [(s, i) for s, i in conn.execute("SELECT source_system, source_id FROM _erase_records")]
    row = conn.execute("SELECT count(*) FROM _erase_leads").fetchone()
    return records, int(row[0]) if row else 0, addresses


def _remove(conn: psycopg.Connection) -> dict[str, int]:
    rows = {"raw.leads": conn.execute(statement("erasure", "raw_leads")).rowcount}
    for obj in PERSON_KEYS:
        table = sql.Identifier("raw", obj)
        rows[f"raw.{obj}"] = conn.execute(composed("erasure", "raw_named", table=table)).rowcount
    found = conn.execute(statement("erasure", "quarantine")).fetchone()
    rows["dq.quarantine"] = int(found[0]) if found else 0
    rows["core.lead_sources"] = conn.execute(
        statement("erasure", "lead_sources"), {"kept": list(KEPT_FIELDS)}
    ).rowcount
    rows["core.leads"] = conn.execute(statement("erasure", "leads")).rowcount
    for name in ATTRIBUTE_TABLES:
        table = sql.Identifier(*name.split("."))
        rows[name] = conn.execute(composed("erasure", "attributes", table=table)).rowcount
    for name in BY_LEAD_TABLES:
        table = sql.Identifier(*name.split("."))
        rows[name] = conn.execute(composed("erasure", "by_lead", table=table)).rowcount
    return rows


def erase_person(
    dsn: str,
    *,
    email: str | None = None,
    email_sha256: str | None = None,
    requested_by: str = "cli",
    at_source: SourceEraser | None = None,
) -> Erasure:
    """Erase one person from the warehouse (and from the sources when `at_source` is given).

    Args:
        dsn: the warehouse.
        email: the person's address (any case, spaces around); or
        email_sha256: the hex sha256 of it, trimmed and lower-cased (exactly one of the two).
        requested_by: recorded in the audit row ("cli", an Airflow run id).
        at_source: called with the person's (source_system, source_id) records before anything changes
            here (`source.erase_at_source`); None asks no source.

    Returns:
        The counts of what changed; `already_erased` when an audit row existed before.
    """
    digest = person_hash(email=email, email_sha256=email_sha256)
    with psycopg.connect(dsn) as conn, conn.transaction():
        prior = conn.execute("SELECT 1 FROM ops.erasures WHERE email_sha256 = %s", (digest,)).fetchone()
        records, leads, addresses = _find(conn, digest)
        sources = at_source(records) if at_source is not None and records else {}
        rows = _remove(conn)
        for table, n in scrub.scrub(conn, addresses).items():
            rows[table] = rows.get(table, 0) + n
        rows = {table: n for table, n in rows.items() if n}
        result = Erasure(digest, leads, len(records), rows, sources, already_erased=prior is not None)
        if result.changed or prior is None:
            _record(conn, result, requested_by)
    log.info(
        "erasure %s…: %s lead(s), %s source record(s), %s row(s) changed%s",
        digest[:12], leads, len(records), sum(rows.values()),
        " (already erased: nothing left)" if prior and not result.changed else "",
    )  # fmt: skip
    return result


def _record(conn: psycopg.Connection, result: Erasure, requested_by: str) -> None:
    conn.execute(
        statement("erasure", "audit"),
        {
            "email_sha256": result.email_sha256,
            "requested_by": requested_by,
            "leads": result.leads,
            "records": result.source_records,
            "rows": json.dumps(result.rows),
            "at_source": json.dumps(result.at_source),
        },
    )
    conn.execute(statement("erasure", "suppress"), {"email_sha256": result.email_sha256})
