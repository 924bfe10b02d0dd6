"""A quick look at what the warehouse holds: row counts per table (the demo's summary)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from smarketing.warehouse.connection import connect

SCHEMAS = ("raw", "core", "scoring", "sla", "nurture", "dq", "kpi", "ops")


def table_counts(dsn: str) -> dict[str, int]:
    """Exact row count of every table in the project's schemas, as {"schema.table": rows}."""
    with connect(dsn) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1, 2",
            (list(SCHEMAS),),
        ).fetchall()
        if not tables:
            return {}
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {name}, count(*) FROM {table}").format(
                name=sql.Literal(f"{schema}.{table}"), table=sql.Identifier(schema, table)
            )
            for schema, table in tables
        )
        return dict(sorted((name, int(n)) for name, n in conn.execute(counts).fetchall()))


# Each highlight is one query over tables a capability owns; a capability not yet migrated is skipped.
# Lead and SLA counts are not here: `lead_counts` and `sla_counts` give them with what reconciles them.
HIGHLIGHTS: dict[str, tuple[str, str]] = {
    "leads by grade": (
        "scoring.lead_scores",
        "SELECT coalesce(string_agg(grade || ' ' || n, ', ' ORDER BY grade), '') "
        # A fit below the lowest grade's threshold gets no grade (docs/scoring.md).
        "FROM (SELECT coalesce(grade, 'ungraded') AS grade, count(*) AS n FROM scoring.lead_scores GROUP BY 1) g",
    ),
    "MQLs now": (
        "scoring.lead_scores",
        "SELECT count(*) FILTER (WHERE is_mql)::text FROM scoring.lead_scores",
    ),
    "MQL crossings": ("scoring.mql_crossings", "SELECT count(*)::text FROM scoring.mql_crossings"),
    "quarantined rows": ("dq.quarantine", "SELECT count(*)::text FROM dq.quarantine"),
}


def highlights(dsn: str) -> dict[str, str]:
    """A few figures the teams recognise (grades, MQLs, quarantine), for the demo's summary."""
    out: dict[str, str] = {}
    with connect(dsn) as conn:
        for label, (table, query) in HIGHLIGHTS.items():
            if _exists(conn, table):
                out[label] = conn.execute(query).fetchone()[0]  # type: ignore[arg-type]  # constant SQL
    return out


def _exists(conn: Any, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None


def lead_counts(dsn: str) -> dict[str, Any]:
    """Leads as each step counts them, with what takes one count to the next.

    `core_leads` (every row of core.leads) = `deleted` + `active`; the last finished scoring run (as of
    `scored_as_of`) scored the leads that existed then: created by then and not deleted by then
    (`scorable_then`); `scored` is scoring.lead_scores. `active` = `scorable_then` + `created_since`
    - `deleted_since` (scorable then, deleted after). Without a finished scoring run the `scor*` keys
    are None.
    """
    with connect(dsn) as conn:
        total, deleted = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM core.leads"
        ).fetchone()
        out: dict[str, Any] = {"core_leads": total, "deleted": deleted, "active": total - deleted}
        out |= {"scored_as_of": None, "scorable_then": None, "created_since": None, "deleted_since": None}
        out["scored"] = None
        if not _exists(conn, "scoring.runs"):
            return out
        row = conn.execute(
            "SELECT as_of FROM scoring.runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
        out["scored"] = conn.execute("SELECT count(*) FROM scoring.lead_scores").fetchone()[0]
        if row is None:
            return out
        then = out["scored_as_of"] = row[0]
        # The same test as the scoring run's read of the leads (scoring.warehouse.read_leads).
        scorable, created, gone = conn.execute(
            """
            SELECT count(*) FILTER (WHERE existed AND (deleted_at IS NULL OR deleted_at > %(t)s)),
                   count(*) FILTER (WHERE NOT existed AND deleted_at IS NULL),
                   count(*) FILTER (WHERE existed AND deleted_at > %(t)s)
            FROM (SELECT deleted_at, (created_at IS NULL OR created_at <= %(t)s) AS existed FROM core.leads) l
            """,
            {"t": then},
        ).fetchone()
        out |= {"scorable_then": scorable, "created_since": created, "deleted_since": gone}
    return out


def sla_counts(dsn: str) -> dict[str, Any]:
    """The two SLA clocks kept apart: follow-ups by first-touch status and by accept status, and the
    open breaches of each kind (`first_touch` must equal the follow-ups `breached_open` on the first-touch
    clock, `accept` those `breached_open` on the accept clock). Empty when the SLA is not migrated."""
    with connect(dsn) as conn:
        if not _exists(conn, "sla.followups"):
            return {}
        first = dict(
            conn.execute("SELECT status, count(*) FROM sla.followups GROUP BY 1 ORDER BY 1").fetchall()
        )
        accept = dict(
            conn.execute(
                "SELECT coalesce(accept_status, 'not started'), count(*) FROM sla.followups GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        breaches = dict(
            conn.execute(
                "SELECT kind, count(*) FROM sla.breaches WHERE resolved_at IS NULL GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        evaluated = conn.execute("SELECT max(evaluated_at) FROM sla.followups").fetchone()[0]
    return {
        "followups": sum(first.values()),
        "evaluated_at": evaluated,
        "first_touch_clock": first,
        "accept_clock": accept,
        "open_breaches": {"first_touch": breaches.get("first_touch", 0), "accept": breaches.get("accept", 0)},
    }
