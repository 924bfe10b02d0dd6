"""How every `smarketing` command prints: a table or a few lines for a person by default, JSON with `--json`.

One option (`JsonOption`) and one printer (`emit`) for every command group, so `--json` means the same
everywhere: the command's whole result as one JSON document on stdout, keys sorted, moments as ISO 8601.
Human output uses rich tables (no colour when stdout is not a terminal) and the words of task logs
(`smarketing.tasklog`: counts with separators, moments as "2026-12-07 00:15 UTC").
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]

# Where results go: the process's real stdout while `results_on_stdout` holds it, else sys.stdout.
_results: IO[str] | None = None


@contextlib.contextmanager
def results_on_stdout() -> Iterator[None]:
    """Keep stdout for the command's result alone: file descriptor 1 points at stderr while the block
    runs (Airflow's log handlers, set up when a connection or Variable is first looked up, write to
    stdout), and `print_json` / `show` write to the real stdout."""
    global _results
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    _results = os.fdopen(os.dup(real), "w", encoding="utf-8")
    try:
        yield
    finally:
        _results.flush()
        _results.close()
        _results = None
        sys.stdout.flush()
        os.dup2(real, 1)
        os.close(real)


def _target() -> IO[str]:
    return _results or sys.stdout


def print_json(data: object) -> None:
    """`data` as indented JSON with sorted keys (moments and other objects as text)."""
    typer.echo(json.dumps(data, indent=2, default=str, sort_keys=True), file=_target())


def console() -> Any:
    """A rich console on the results stream (looked up at each call: test runners swap sys.stdout)."""
    from rich.console import Console

    target = _target()
    return Console(file=target, highlight=False, soft_wrap=False, width=None if target.isatty() else 160)


def table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, header: bool = True
) -> Any:
    """A rich table; a column whose name starts with ">" is right-aligned (numbers), the ">" dropped."""
    from rich import box
    from rich.table import Table

    out = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        show_header=header,
    )
    for name in columns:
        right = name.startswith(">")
        out.add_column(name.lstrip(">"), justify="right" if right else "left", overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def show(*items: Any) -> None:
    """Print tables and lines (a str is printed as it is, without rich markup)."""
    out = console()
    for item in items:
        if isinstance(item, str):
            out.print(item, markup=False, soft_wrap=True)
        else:
            out.print(item)


def emit(data: object, as_json: bool, human: Callable[[], Iterable[Any]] | str) -> None:
    """The one way a command prints its result: `data` as JSON with `--json`, else what `human` gives
    (a line, or a callable returning lines and tables, called only for people)."""
    if as_json:
        print_json(data)
    elif isinstance(human, str):
        show(human)
    else:
        show(*human())


def key_values(title: str | None, pairs: Iterable[tuple[str, Any]]) -> Any:
    """A two-column table of labels and values (no header)."""
    return table(title, ("", ""), pairs, header=False)
