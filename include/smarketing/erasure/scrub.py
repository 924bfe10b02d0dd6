"""Addresses left in free text anywhere in the warehouse: found and replaced, column by column.

The targeted steps of an erasure know where the person's rows are. Their address can also sit where no
key points: a note on someone else's record, an error text, a sample a quality check kept. This pass
reads the catalogue (every text, JSON and text-array column of every table outside PostgreSQL's own
schemas) and replaces each occurrence, in any letter case and with the `@` URL-encoded too, by
`<erased>`. It costs one sequential read of each table with such columns: erasures are rare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

REPLACEMENT = "<erased>"
_ARRAY_TYPES = ("_text", "_varchar", "_bpchar")


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    kind: str  # text, json, jsonb or array


def text_columns(conn: psycopg.Connection) -> list[Column]:
    """Every column that can hold an address, by the catalogue (information_schema)."""
    rows = conn.execute(
        """
        SELECT c.table_schema, c.table_name, c.column_name,
               CASE WHEN c.data_type IN ('json', 'jsonb') THEN c.data_type
                    WHEN c.data_type = 'ARRAY' THEN 'array' ELSE 'text' END
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
        WHERE t.table_type = 'BASE TABLE'
          AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
          AND c.table_schema NOT LIKE 'pg\\_%%'
          AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
               OR (c.data_type = 'ARRAY' AND c.udt_name = ANY (%s)))
        ORDER BY 1, 2, c.ordinal_position
        """,
        (list(_ARRAY_TYPES),),
    ).fetchall()
    return [Column(*row) for row in rows]


# An address ends where its text does: `ann@x.com` is not in `joann@x.com` nor in `ann@x.com.au`.
_BEFORE = r"(?<![[:alnum:]._%+'-])"
_AFTER = r"(?![[:alnum:]_-]|\.[[:alnum:]])"


def address_pattern(addresses: Iterable[str]) -> str | None:
    """A PostgreSQL regular expression (for `~*`) matching any of the addresses as a whole, with `@` or
    `%40`; None when there is none."""
    parts = []
    for address in sorted(set(addresses)):
        local, _, domain = address.rpartition("@")
        parts.append(f"{_posix_escape(local)}(@|%40){_posix_escape(domain)}")
    return f"{_BEFORE}({'|'.join(parts)}){_AFTER}" if parts else None


def _posix_escape(text: str) -> str:
    # Python's escaping of non-word characters is valid in PostgreSQL's ARE syntax too.
    return re.sub(r"([^\w])", r"\\\1", text)


def _as_text(column: Column) -> sql.Composable:
    ident = sql.Identifier(column.name)
    if column.kind == "array":
        return sql.SQL("array_to_string({}, ' ')").format(ident)
    return sql.SQL("{}::text").format(ident) if column.kind in ("json", "jsonb") else ident


def _replaced(column: Column) -> sql.Composable:
    ident = sql.Identifier(column.name)
    if column.kind in ("json", "jsonb"):
        # `<erased>` needs no JSON escaping: the text stays valid JSON
        return sql.SQL("regexp_replace({}::text, %(p)s, %(r)s, 'gi')::{}").format(ident, sql.SQL(column.kind))
    if column.kind == "array":
        return sql.SQL(
            "(SELECT array_agg(regexp_replace(x, %(p)s, %(r)s, 'gi') ORDER BY i) FROM unnest({}) WITH ORDINALITY u(x, i))"
        ).format(ident)
    return sql.SQL("regexp_replace({}, %(p)s, %(r)s, 'gi')").format(ident)


def _by_table(columns: Sequence[Column]) -> dict[tuple[str, str], list[Column]]:
    tables: dict[tuple[str, str], list[Column]] = {}
    for column in columns:
        tables.setdefault((column.schema, column.table), []).append(column)
    return tables


def scrub(conn: psycopg.Connection, addresses: Iterable[str]) -> dict[str, int]:
    """Replace every occurrence of the addresses in every text column; rows changed per table."""
    pattern = address_pattern(addresses)
    if pattern is None:
        return {}
    changed: dict[str, int] = {}
    for (schema, table), columns in _by_table(text_columns(conn)).items():
        assignments = sql.SQL(", ").join(
            sql.SQL("{c} = CASE WHEN {t} ~* %(p)s THEN {new} ELSE {c} END").format(
                c=sql.Identifier(c.name), t=_as_text(c), new=_replaced(c)
            )
            for c in columns
        )
        matches = sql.SQL(" OR ").join(sql.SQL("{} ~* %(p)s").format(_as_text(c)) for c in columns)
        statement = sql.SQL("UPDATE {} SET {} WHERE {}").format(
            sql.Identifier(schema, table), assignments, matches
        )
        n = conn.execute(statement, {"p": pattern, "r": REPLACEMENT}).rowcount
        if n:
            changed[f"{schema}.{table}"] = n
    return changed


def traces(conn: psycopg.Connection, addresses: Iterable[str]) -> dict[str, int]:
    """Rows still holding any of the addresses, per `schema.table.column` (empty when none)."""
    pattern = address_pattern(addresses)
    if pattern is None:
        return {}
    found: dict[str, int] = {}
    for column in text_columns(conn):
        statement = sql.SQL("SELECT count(*) FROM {} WHERE {} ~* %(p)s").format(
            sql.Identifier(column.schema, column.table), _as_text(column)
        )
        row = conn.execute(statement, {"p": pattern}).fetchone()
        if row and row[0]:
            found[f"{column.schema}.{column.table}.{column.name}"] = int(row[0])
    return found
