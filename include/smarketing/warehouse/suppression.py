"""Records of erased people never land again (docs/privacy.md).

An erasure leaves the hashes of the person's addresses and source records in `ops.erased_identities`.
Every landing ends by deleting, inside its own transaction, the records of its batch that match: a
contact by its address or its record, an event, activity, stage change or segment membership by the
contact it names. So neither the next incremental pull nor a replay of a file export brings an erased
person back into raw.*, quarantine or core, even when the source still holds them. Deals stay: they are
the company's records, and they keep pointing at the anonymised lead.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# The raw objects that are about one person, and the payload key naming that person's record.
PERSON_KEYS: dict[str, str] = {
    "marketing_events": "lead_source_id",
    "sales_activities": "lead_source_id",
    "lifecycle_history": "lead_source_id",
    "segment_memberships": "lead_source_id",
}

_CONTACTS = """
DELETE FROM raw.leads r
WHERE r.batch_id = %(batch)s
  AND (EXISTS (SELECT 1 FROM ops.erased_identities e
               WHERE e.kind = 'record' AND e.sha256 = ops.sha256_hex(r.source_system || ':' || r.source_id))
       OR EXISTS (SELECT 1 FROM ops.erased_identities e
                  WHERE e.kind = 'email' AND e.sha256 = ops.sha256_hex(lower(btrim(r.payload->>'email')))))
"""

_NAMED = """
DELETE FROM {table} r
WHERE r.batch_id = %(batch)s
  AND EXISTS (SELECT 1 FROM ops.erased_identities e
              WHERE e.kind = 'record' AND e.sha256 = ops.sha256_hex(r.source_system || ':' || (r.payload->>{key})))
"""


def drop_erased(conn: psycopg.Connection, object: str, batch_id: int) -> int:
    """Delete the records of one landed batch that belong to an erased person.

    Args:
        conn: the landing's connection, inside its transaction (the batch is not committed yet).
        object: the raw object (`leads`, `marketing_events`, ...).
        batch_id: the batch just copied in.

    Returns:
        How many records were dropped (0 at once when nobody was ever erased).
    """
    if object != "leads" and object not in PERSON_KEYS:
        return 0
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM ops.erased_identities)").fetchone() == (True,):
        return 0
    if object == "leads":
        statement: sql.Composable = sql.SQL(_CONTACTS)
    else:
        statement = sql.SQL(_NAMED).format(
            table=sql.Identifier("raw", object), key=sql.Literal(PERSON_KEYS[object])
        )
    return conn.execute(statement, {"batch": batch_id}).rowcount
