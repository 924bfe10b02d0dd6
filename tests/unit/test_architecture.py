"""The rooms of include/ and what each may import (docs/architecture.md), measured on the source.

Every module under include/ is parsed with `ast`; every import counts, the ones inside functions
too (a lazy import is still a dependency; it only hides it from the start-up order). Rules:

1. a module of the runtime package (`smarketing`) imports only rooms on a LOWER level than its own:
   never a higher one, never a peer on the same level (peers stay independent, so either can change
   or move without the other);
2. the runtime package never imports `smarketing_sandbox` (production workers do not ship it); the
   sandbox may import the runtime package; DAG files import anything but each other;
3. no cycle between modules (imports under `if TYPE_CHECKING:` aside: they never run);
4. size: no module of `smarketing` past 600 lines, no function past 80 (the sandbox is demo and test
   code, held to the same aims but not checked here). Current offenders are listed below with the
   reason, so the list is the remaining debt; an entry that is no longer needed fails too, so the
   list only ever shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[2] / "include"
RUNTIME, SANDBOX = "smarketing", "smarketing_sandbox"

# Room -> level. A room is a top-level module or package of `smarketing`; its level is the floor it
# lives on. Keep in step with the table in docs/architecture.md.
LEVELS: dict[str, int] = {
    # 0: the package root and what everything locates itself by
    "smarketing": 0,  # __init__: the version, nothing else
    "smarketing.errors": 0,
    "smarketing.paths": 0,
    "smarketing.tasklog": 0,
    # 1: shared mechanisms with no other dependency inside the package
    "smarketing.privacy": 1,
    "smarketing.vocabulary": 1,
    "smarketing.sqlfiles": 1,
    "smarketing.run_settings": 1,
    "smarketing.cli_options": 1,
    "smarketing.cli_output": 1,
    # 2: the agreement (config/smarketing.yaml) parsed into settings: pure, no database
    "smarketing.config": 2,
    # 3: the warehouse: connection, the one COPY module, migrations, the core build
    "smarketing.warehouse": 3,
    # 4: sources: API and file connectors landing raw.*
    "smarketing.sources": 4,
    # 5: the quality gate between raw and core
    "smarketing.quality": 5,
    # 5: privacy operations (erasure on request, retention purge): SQL over every schema, sources' hooks
    "smarketing.erasure": 5,
    # 6: the capabilities on core
    "smarketing.scoring": 6,
    "smarketing.sla": 6,
    # 7: the capabilities built on those
    "smarketing.nurture": 7,
    "smarketing.kpi": 7,
    "smarketing.notify": 7,  # the failure notifier: sends through sla.smtp
    # 8: the entry points: what the DAG files share, the command line, Airflow's provider metadata
    "smarketing.airflow_support": 8,
    # the monthly review: KPIs and report (kpi), the scoring proposal and decision (scoring), the mail (sla)
    "smarketing.review": 8,
    "smarketing.cli": 8,
    "smarketing.provider": 8,
    "smarketing.ui": 8,  # the Smarketing page in the Airflow UI: reads kpi, sla, scoring, quality, Airflow runs
}

# (importing module, imported module) -> why this edge breaks a rule and stays for now. Empty: every
# import obeys the rules. An entry must name a real, current violation (see the test below).
ALLOWED_IMPORTS: dict[tuple[str, str], str] = {}

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# Path under include/ -> why it is still over MAX_MODULE_LINES.
ALLOWED_LONG_MODULES: dict[str, str] = {}

# "path under include/::qualified function name" -> why it is still over MAX_FUNCTION_LINES.
ALLOWED_LONG_FUNCTIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (the deepest module the statement names)
    line: int
    in_function: bool
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(INCLUDE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module under include/ by dotted name."""
    return {module_name(p): p for p in sorted(INCLUDE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _known(name: str) -> str:
    """`name` or its nearest enclosing module that exists (`pkg.Class` -> `pkg`)."""
    while name not in modules() and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    for alias in node.names:  # `from pkg import submodule` imports the submodule
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base


@cache
def imports() -> tuple[Import, ...]:
    """Every import of a module of ours by a module under include/."""
    found: list[Import] = []
    for name, path in modules().items():
        is_package = path.name == "__init__.py"

        def visit(
            node: ast.AST, in_function: bool, type_only: bool, name=name, is_package=is_package
        ) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    for target in _targets(child, name, is_package):
                        if target.split(".")[0] in (RUNTIME, SANDBOX):
                            found.append(Import(name, _known(target), child.lineno, in_function, type_only))
                visit(
                    child,
                    in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef),
                    type_only or (isinstance(child, ast.If) and _is_type_checking(child)),
                )

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return tuple(found)


def room(module: str) -> str | None:
    """The room a module lives in: its longest prefix in LEVELS (None for the sandbox or an unknown one)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in LEVELS:
            return ".".join(parts[:end])
    return None


def _where(imp: Import) -> str:
    path = modules()[imp.importer].relative_to(INCLUDE)
    return f"{imp.importer} ({path}:{imp.line}{', inside a function' if imp.in_function else ''})"


def room_violations() -> dict[tuple[str, str], str]:
    """(importer, imported) -> the rule the import breaks."""
    broken: dict[tuple[str, str], str] = {}
    for imp in imports():
        if imp.importer.split(".")[0] == SANDBOX:
            continue  # the sandbox may import anything of the runtime package
        if imp.imported.split(".")[0] == SANDBOX:
            rule = "the runtime package never imports smarketing_sandbox"
        else:
            src, dst = room(imp.importer), room(imp.imported)
            if src is None or dst is None or src == dst:
                continue  # unknown rooms fail in their own test; inside a room anything goes
            if LEVELS[dst] > LEVELS[src]:
                rule = f"a lower room never imports a higher one ({src} is on level {LEVELS[src]}, {dst} on {LEVELS[dst]})"
            elif LEVELS[dst] == LEVELS[src]:
                rule = f"peers on level {LEVELS[src]} do not import each other ({src} -> {dst})"
            else:
                continue
        broken.setdefault((imp.importer, imp.imported), f"{_where(imp)} imports {imp.imported}: {rule}")
    return broken


def test_every_runtime_module_has_a_room() -> None:
    homeless = [m for m in modules() if m.split(".")[0] == RUNTIME and room(m) is None]
    assert not homeless, (
        f"modules with no room: {homeless}; give each a level in LEVELS here and a row in docs/architecture.md"
    )


def test_rooms_import_only_lower_rooms() -> None:
    broken = room_violations()
    problems = [why for edge, why in sorted(broken.items()) if edge not in ALLOWED_IMPORTS]
    assert not problems, "imports that break the room rules (docs/architecture.md):\n" + "\n".join(problems)


def test_the_allowed_imports_are_still_needed() -> None:
    stale = sorted(set(ALLOWED_IMPORTS) - set(room_violations()))
    assert not stale, f"ALLOWED_IMPORTS entries that no longer break a rule, remove them: {stale}"


def test_dag_files_never_import_each_other() -> None:
    dags = INCLUDE.parent / "dags"
    names = {p.stem for p in dags.glob("*.py")}
    found = []
    for path in sorted(dags.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"dags/{path.name}:{node.lineno} imports {t}" for t in targets if t.split(".")[0] in names
            ]
    assert names, "no DAG file found"
    assert not found, (
        "DAG files never import each other (share through smarketing.airflow_support):\n" + "\n".join(found)
    )


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _shortest_loop(start: str, members: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path start -> ... -> start inside one component (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in no loop")  # a component of two or more always has one


def test_no_import_cycle_between_modules() -> None:
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    where: dict[tuple[str, str], Import] = {}
    for imp in imports():
        if not imp.type_only and imp.imported != imp.importer and imp.imported in modules():
            edges[imp.importer].add(imp.imported)
            where.setdefault((imp.importer, imp.imported), imp)
    described = []
    for component in _cycles(edges):
        loop = _shortest_loop(component[0], set(component), edges)
        steps = "\n".join(f"    {_where(where[a, b])} imports {b}" for a, b in pairwise(loop))
        described.append(
            f"{len(component)} modules in a cycle ({', '.join(component)}), for example:\n{steps}"
        )
    assert not described, "import cycles between modules (a function-level import is one too):\n" + "\n".join(
        described
    )


def _runtime_files() -> list[Path]:
    return [p for m, p in modules().items() if m.split(".")[0] == RUNTIME]


def _long_modules() -> dict[str, int]:
    sizes = {
        str(p.relative_to(INCLUDE)): len(p.read_text(encoding="utf-8").splitlines()) for p in _runtime_files()
    }
    return {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}


def _long_functions() -> dict[str, int]:
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str, path: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                length = child.end_lineno - first + 1
                if not isinstance(child, ast.ClassDef) and length > MAX_FUNCTION_LINES:
                    found[f"{path}::{name}"] = length
                visit(child, f"{name}.", path)
            else:
                visit(child, prefix, path)

    for p in _runtime_files():
        visit(ast.parse(p.read_text(encoding="utf-8")), "", str(p.relative_to(INCLUDE)))
    return found


def _within(long: dict[str, int], allowed: dict[str, str], what: str, fix: str) -> None:
    """No `long` entry outside `allowed`, and no `allowed` entry that is no longer long."""
    over = {name: n for name, n in long.items() if name not in allowed}
    assert not over, f"{what} ({fix}): {over}"
    stale = sorted(set(allowed) - set(long))
    assert not stale, f"allow-list entries no longer {what}, remove them: {stale}"


def test_no_module_past_the_size_limit() -> None:
    _within(
        _long_modules(), ALLOWED_LONG_MODULES, f"modules over {MAX_MODULE_LINES} lines", "split by concern"
    )


def test_no_function_past_the_size_limit() -> None:
    _within(
        _long_functions(),
        ALLOWED_LONG_FUNCTIONS,
        f"functions over {MAX_FUNCTION_LINES} lines",
        "name the steps",
    )


def test_the_checks_see_what_they_check() -> None:
    """The parser finds the imports the rules are about (a test that saw nothing could not fail)."""
    found = {(i.importer, i.imported, i.in_function) for i in imports()}
    assert (
        "smarketing.warehouse.core_build",
        "smarketing.config.patterns",
        True,
    ) in found  # inside a function
    assert ("smarketing.sqlfiles", "smarketing.paths", False) in found
    assert ("smarketing_sandbox.sales", "smarketing.sla.calendar", False) in found
    assert room("smarketing.sources.hubspot.crm") == "smarketing.sources"
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
