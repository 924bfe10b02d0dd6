"""Statements longer than a screen live in `sql/<capability>/<name>.sql`, where SQL people look for them;
code reads them by name here (one loader for every capability).

A file holds one statement. Parts that vary per call (a table name, a literal list) are written
`{name}` and filled with psycopg's `sql` composition, which quotes identifiers and literals; values go
through ordinary `%(name)s` parameters. So a file has no other braces, comments included.
"""

from __future__ import annotations

from functools import cache

from psycopg import sql

from smarketing.paths import SQL_DIR


@cache
def statement(capability: str, name: str) -> str:
    """The text of `sql/<capability>/<name>.sql` (e.g. `statement("quality", "supersede")`).

    Raises FileNotFoundError naming the path when there is no such file.
    """
    return (SQL_DIR / capability / f"{name}.sql").read_text(encoding="utf-8")


def composed(capability: str, name: str, /, **parts: sql.Composable) -> sql.Composed:
    """The statement of `sql/<capability>/<name>.sql` with its `{part}` placeholders filled.

    `parts`: psycopg `sql` objects by placeholder name (`sql.Identifier`, `sql.Literal`, ...).
    """
    return sql.SQL(statement(capability, name)).format(**parts)  # type: ignore[arg-type]  # project SQL
