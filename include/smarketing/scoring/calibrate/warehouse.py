"""Leads of the warehouse as a calibration input: lead and company fields, and the outcome."""

from __future__ import annotations

import pandas as pd


def warehouse_frame(dsn: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Leads from the warehouse with outcome `won` (1 when a deal of the lead was won, 0 when its deals
    were all lost, missing otherwise), lead and company columns and low-cardinality attributes."""
    from psycopg import sql

    from smarketing.warehouse.connection import connect
    from smarketing.warehouse.copy import copy_out_csv

    columns = {
        "persona_id": "l.persona_id",
        "country": "l.country",
        "company.industry": "c.industry",
        "company.employees": "c.employees::text",
        "company.annual_revenue": "c.annual_revenue::text",
        "company.country": "c.country",
    }
    with connect(dsn) as conn:
        for table, alias, prefix in (
            ("leads", "l", "attributes."),
            ("companies", "c", "company.attributes."),
        ):
            keys = conn.execute(
                sql.SQL(
                    "SELECT key FROM core.{} t, jsonb_each_text(t.attributes) GROUP BY key "
                    "HAVING count(DISTINCT value) BETWEEN 2 AND 50 ORDER BY key"
                ).format(sql.Identifier(table))
            ).fetchall()
            for (key,) in keys:
                columns[prefix + key] = f"{alias}.attributes ->> {sql.Literal(key).as_string(conn)}"
        query = sql.SQL(
            """
            SELECT l.lead_id, {columns},
                   CASE WHEN bool_or(d.is_won) THEN '1' WHEN bool_and(d.is_won = false) THEN '0' END AS won
            FROM core.leads l
            LEFT JOIN core.companies c ON c.company_id = l.company_id
            LEFT JOIN core.deals d ON d.lead_id = l.lead_id AND d.deleted_at IS NULL
            WHERE l.deleted_at IS NULL
            GROUP BY l.lead_id, c.company_id
            """
        ).format(
            columns=sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(name))
                for name, expr in columns.items()
            )
        )
        frame = copy_out_csv(conn, query)
    return frame, {name: name for name in columns}
