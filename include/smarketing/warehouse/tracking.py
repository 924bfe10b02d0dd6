"""Turning on a change log kept by statement triggers, without losing a change written meanwhile.

A trigger logs only once its capability's tracking row exists. A writer whose statement ran before the
row existed logged nothing; if it commits after the first reader has read, its change would be lost to
both. So once the row is committed, wait until every transaction of this database that was writing before
it has ended (as CREATE INDEX CONCURRENTLY does).
"""

from __future__ import annotations

import time

import psycopg


def start_tracking(
    conn: psycopg.Connection, insert_row: str, since: str, *, what: str, patience_s: float = 600.0
) -> bool:
    """Commit the tracking row (`insert_row`: an INSERT ... ON CONFLICT DO NOTHING, on an autocommit
    connection), then wait for the writers older than it (`since`: a query of the row's time). The wait is
    made whether or not this call inserted the row: a call that gave up waiting leaves the row behind.
    False: tracking was on already."""
    inserted = conn.execute(insert_row).rowcount == 1  # type: ignore[arg-type]  # project SQL
    (began,) = conn.execute(since).fetchone()  # type: ignore[arg-type,misc]  # project SQL
    deadline = time.monotonic() + patience_s
    while conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND xact_start < %s",
        (began,),
    ).fetchone()[0]:  # type: ignore[index]
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"a transaction open since before {began:%Y-%m-%d %H:%M:%S} keeps {what} from starting to "
                "track changes: end it and run again"
            )
        time.sleep(0.1)
    return inserted
