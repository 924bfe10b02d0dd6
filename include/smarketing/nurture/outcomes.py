"""Does a scenario work? Enrolled vs held-out outcomes (`nurture.scenario_outcomes`), and the run's
per-scenario standing (entered, held out, exited) for the log, the demo and the DAG's asset event."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from smarketing.config import Agreement
from smarketing.nurture.matching import statement
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)


def build_outcomes(dsn: str, agreement: Agreement, *, as_of: datetime) -> int:
    """Rebuild nurture.scenario_outcomes with what happened up to `as_of`; returns the rows written."""
    params = {
        "as_of": as_of,
        "timezone": agreement.organization.timezone,
        "sql_stages": list(agreement.vocabulary.sql_stages),
    }
    with connect(dsn) as conn, conn.transaction():
        conn.execute("DELETE FROM nurture.scenario_outcomes")
        return conn.execute(statement("060_outcomes"), params).rowcount


def standing(dsn: str) -> dict[str, dict[str, int]]:
    """Per scenario: leads enrolled now (in the tool), held out now, exited, skipped, waiting to be sent."""
    with connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT scenario_id,
                   count(*) FILTER (WHERE state IN ('pushed', 'confirmed', 'exiting')) AS enrolled,
                   count(*) FILTER (WHERE state = 'held_out') AS held_out,
                   count(*) FILTER (WHERE state = 'exited') AS exited,
                   count(*) FILTER (WHERE state = 'skipped') AS skipped,
                   count(*) FILTER (WHERE state = 'planned') AS waiting
            FROM nurture.enrollments GROUP BY scenario_id ORDER BY scenario_id
            """
        ).fetchall()
    keys = ("enrolled", "held_out", "exited", "skipped", "waiting")
    return {row[0]: dict(zip(keys, map(int, row[1:]), strict=True)) for row in rows}


def effects(dsn: str, metric: str = "mql_30d") -> list[dict[str, Any]]:
    """One metric of nurture.scenario_outcomes summed over months, per scenario (rates and difference)."""
    with connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT scenario_id, sum(enrolled), sum(enrolled_hits), sum(held_out), sum(held_out_hits)
            FROM nurture.scenario_outcomes WHERE metric = %s GROUP BY scenario_id ORDER BY scenario_id
            """,
            (metric,),
        ).fetchall()
    out = []
    for scenario, n1, h1, n0, h0 in rows:
        p1 = h1 / n1 if n1 else None
        p0 = h0 / n0 if n0 else None
        diff = p1 - p0 if p1 is not None and p0 is not None else None
        out.append(
            {
                "scenario": scenario,
                "metric": metric,
                "enrolled": int(n1),
                "enrolled_rate": p1,
                "held_out": int(n0),
                "held_out_rate": p0,
                "difference": diff,
            }
        )
    return out


def finish_run(dsn: str, run_id: str) -> None:
    with connect(dsn) as conn, conn.transaction():
        conn.execute("UPDATE nurture.runs SET finished_at = now() WHERE run_id = %s", (run_id,))
