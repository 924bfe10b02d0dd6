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
