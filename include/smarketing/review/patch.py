"""The proposal as a reviewable change: a unified diff of the agreement's `scoring:` block, ready for a
pull request (`git apply` / `patch -p1`). The agreement file itself is only read.

Keys of the block the calibration does not propose (profiles, engagement bands) are kept as they are;
the MQL rule (`vocabulary.mql`) is not touched — the backtest shows what the proposal does with it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_TOP_LEVEL = re.compile(r"^[A-Za-z_][\w-]*\s*:")
PROPOSED_KEYS = ("version", "fit", "engagement", "grades")


def _block(lines: list[str]) -> tuple[int, int]:
    """[start, end) of the top-level `scoring:` block; comment and blank lines just before the next
    top-level key belong to that key."""
    start = next((i for i, line in enumerate(lines) if re.match(r"^scoring\s*:", line)), None)
    if start is None:
        raise ValueError("the agreement has no top-level `scoring:` block")
    end = next((i for i in range(start + 1, len(lines)) if _TOP_LEVEL.match(lines[i])), len(lines))
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return start, end


def merged_scoring(current: Mapping[str, Any], proposal: Mapping[str, Any]) -> dict[str, Any]:
    """The agreement's scoring section with the proposed keys replaced, the others kept in their order."""
    merged = dict(current)
    for key in PROPOSED_KEYS:
        if key in proposal:
            merged[key] = proposal[key]
    return merged


def scoring_patch(agreement: Path, proposal: Mapping[str, Any], *, relative: str) -> str:
    """A unified diff turning the agreement's `scoring:` block into the proposal's.

    agreement: the agreement file (read only). proposal: the proposed `scoring:` section (a mapping).
    relative: the file's path in the repository (the diff's `a/...` and `b/...` names).
    Returns the diff text, empty when the proposal changes nothing.
    """
    text = agreement.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start, end = _block(lines)
    current = (yaml.safe_load(text) or {}).get("scoring") or {}
    body = yaml.safe_dump(
        {"scoring": merged_scoring(current, proposal)}, sort_keys=False, allow_unicode=True, width=110
    )
    new_lines = [*lines[:start], *body.splitlines(keepends=True), *lines[end:]]
    if new_lines and not new_lines[-1].endswith("\n"):
        new_lines[-1] += "\n"
    return "".join(difflib.unified_diff(lines, new_lines, fromfile=f"a/{relative}", tofile=f"b/{relative}"))


def write_patch(agreement: Path, proposal: Mapping[str, Any], out: Path, *, relative: str) -> Path:
    """Write `scoring_patch` to `out` (its folder created); returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scoring_patch(agreement, proposal, relative=relative), encoding="utf-8")
    return out
