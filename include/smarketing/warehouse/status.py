"""A quick look at what the warehouse holds: row counts per table (the demo's summary)."""

from __future__ import annotations

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
HIGHLIGHTS: dict[str, tuple[str, str]] = {
    "leads": ("core.leads", "SELECT count(*)::text FROM core.leads WHERE deleted_at IS NULL"),
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
    "SLA follow-ups by status": (
        "sla.followups",
        "SELECT coalesce(string_agg(status || ' ' || n, ', ' ORDER BY status), '') "
        "FROM (SELECT status, count(*) AS n FROM sla.followups GROUP BY 1) s",
    ),
    "SLA breaches (open / all)": (
        "sla.breaches",
        "SELECT count(*) FILTER (WHERE resolved_at IS NULL) || ' / ' || count(*) FROM sla.breaches",
    ),
    "quarantined rows": ("dq.quarantine", "SELECT count(*)::text FROM dq.quarantine"),
}


def highlights(dsn: str) -> dict[str, str]:
    """A few figures the teams recognise (leads, grades, MQLs, SLA status), for the demo's summary."""
    out: dict[str, str] = {}
    with connect(dsn) as conn:
        for label, (table, query) in HIGHLIGHTS.items():
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            out[label] = conn.execute(query).fetchone()[0]  # type: ignore[arg-type]  # constant SQL
    return out
