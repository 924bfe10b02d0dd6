"""What the erasure tests look at, read straight from the catalogue: the erasure's own code is not used
to check itself."""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg
from psycopg import sql

_SYSTEM = ("pg_catalog", "information_schema")


def _tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%%'"
        " ORDER BY 1, 2"
    ).fetchall()


def text_like_columns(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every column whose text can hold an address: text, varchar, char,
    json, jsonb and arrays of text, in every schema of the database."""
    return conn.execute(
        """
        SELECT c.table_schema, c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
        WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
          AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
               OR c.udt_name IN ('_text', '_varchar', '_bpchar', '_json', '_jsonb'))
        ORDER BY 1, 2, 3
        """
    ).fetchall()


def address_traces(conn: psycopg.Connection, addresses: Iterable[str]) -> dict[str, int]:
    """Rows mentioning any of the addresses, per schema.table.column: in any letter case, with spaces
    around the `@` or the `@` written `%40`, counted where the address is whole (`ann@x.com` is not a
    trace in `joann@x.com`)."""
    found: dict[str, int] = {}
    patterns = []
    for address in sorted(set(addresses)):
        local, _, domain = "".join(address.split()).lower().rpartition("@")
        escape = lambda text: re.sub(r"([^\w])", r"\\\1", text)  # noqa: E731
        patterns.append(
            "(^|[^a-z0-9._%+'-])" + escape(local) + r"\s*(@|%40)\s*" + escape(domain)
            + r"($|[^a-z0-9_.-]|\.([^a-z0-9]|$))"
        )  # fmt: skip
    for schema, table, column in text_like_columns(conn):
        statement = sql.SQL("SELECT count(*) FROM {} WHERE lower({}::text) ~ %s").format(
            sql.Identifier(schema, table), sql.Identifier(column)
        )
        for pattern in patterns:
            (n,) = conn.execute(statement, (pattern,)).fetchone()
            if n:
                found[f"{schema}.{table}.{column}"] = found.get(f"{schema}.{table}.{column}", 0) + n
    return found


def fingerprint(
    conn: psycopg.Connection, *, except_where: dict[str, sql.Composable] | None = None
) -> dict[str, str]:
    """Per table, the row count and an md5 of its rows (sorted): equal fingerprints, equal contents.
    `except_where` leaves out, per "schema.table", the rows a condition selects."""
    prints = {}
    for schema, table in _tables(conn):
        name = f"{schema}.{table}"
        skip = (except_where or {}).get(name)
        where = sql.SQL("WHERE NOT ({})").format(skip) if skip is not None else sql.SQL("")
        statement = sql.SQL(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {} t {}"
        ).format(sql.Identifier(schema, table), where)
        (prints[name],) = conn.execute(statement).fetchone()
    return prints
