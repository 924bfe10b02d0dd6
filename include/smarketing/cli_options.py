"""Command-line options every `smarketing` command group shares (one definition, one help text)."""

from __future__ import annotations

from typing import Annotated

import typer

DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="Warehouse DSN (default: smarketing_warehouse connection, SMARKETING_WAREHOUSE_DSN, local).",
    ),
]
