"""Purging personal data past its retention (the agreement's `privacy.retention_days`).

Raw records go `raw` days after their batch landed, quarantined records `quarantine` days after they
were set aside. The batch rows in ops.load_batches stay (they hold no personal data, and their content
hash is what keeps a purged file from landing again). Core keeps the current state of every record, so
the pipelines run on; what is lost is the ability to rebuild core from raw further back than `raw`
days. KPI aggregates are never purged.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg
from psycopg import sql

from smarketing.erasure.settings import RetentionSettings
from smarketing.warehouse.loading import RAW_OBJECTS

log = logging.getLogger(__name__)


def purge(dsn: str, settings: RetentionSettings, *, as_of: datetime) -> dict[str, int]:
    """Delete what is older than its retention at `as_of`, in one transaction.

    Args:
        dsn: the warehouse.
        settings: days per kind (None: that kind is kept).
        as_of: the moment the ages are counted from (a DAG run's data interval end, or now).

    Returns:
        Rows deleted per table (tables with none left out).
    """
    deleted: dict[str, int] = {}
    with psycopg.connect(dsn) as conn, conn.transaction():
        if settings.raw_days is not None:
            for obj in RAW_OBJECTS:
                n = conn.execute(
                    sql.SQL(
                        "DELETE FROM {} r USING ops.load_batches b WHERE r.batch_id = b.batch_id"
                        " AND b.loaded_at < %(as_of)s - make_interval(days => %(days)s)"
                    ).format(sql.Identifier("raw", obj)),
                    {"as_of": as_of, "days": settings.raw_days},
                ).rowcount
                deleted[f"raw.{obj}"] = n
        if settings.quarantine_days is not None:
            deleted["dq.quarantine"] = conn.execute(
                "DELETE FROM dq.quarantine WHERE quarantined_at < %(as_of)s - make_interval(days => %(days)s)",
                {"as_of": as_of, "days": settings.quarantine_days},
            ).rowcount
    deleted = {table: n for table, n in deleted.items() if n}
    log.info(
        "retention purge as of %s: %s row(s) deleted %s", as_of.isoformat(), sum(deleted.values()), deleted
    )
    return deleted
