"""The proposal as a reviewable change: a unified diff of the agreement's `scoring:` block and of the MQL
threshold (`vocabulary.mql`), ready for a pull request (`git apply` / `patch -p1`). The agreement file
itself is only read.

The calibration's points live on a scale of their own, so the proposal carries the MQL threshold matched
on that scale: applying new points with the old `min_score` would hand over far more or far fewer leads.
Keys of the `scoring:` block the calibration does not propose (profiles, engagement bands) are kept as
they are. The threshold is changed in place, value only, so the comments around it stay.
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
# The parts of `vocabulary.mql` a proposal may carry (the calibration sets min_score on its scale and
# keeps the grade condition in effect).
MQL_KEYS = ("min_score", "min_grade")


def proposal_parts(proposal: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the proposed `scoring:` section, the proposed `vocabulary.mql` keys) of a stored proposal.

    proposal: what the calibration proposes as a document (`{"scoring": ..., "vocabulary": {"mql": ...}}`,
    `Calibration.candidate_document`); a bare `scoring:` section (stored before proposals carried a
    threshold) proposes no threshold.
    """
    if "scoring" not in proposal:
        return dict(proposal), {}
    mql = ((proposal.get("vocabulary") or {}).get("mql")) or {}
    return dict(proposal["scoring"]), {k: mql[k] for k in MQL_KEYS if mql.get(k) is not None}


def _block(lines: list[str], key: str) -> tuple[int, int]:
    """[start, end) of the top-level `key:` block; comment and blank lines just before the next
    top-level key belong to that key."""
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{key}\s*:", line)), None)
    if start is None:
        raise ValueError(f"the agreement has no top-level `{key}:` block")
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


def _scalar(value: Any) -> str:
    """A YAML scalar as the agreement writes it (60, 41.5, C)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        return text if re.fullmatch(r"[A-Za-z0-9_]+", text) else yaml.safe_dump(text).splitlines()[0]
    return f"{value:g}"


def _mql_line(lines: list[str], key: str) -> int:
    """Index of the line holding `vocabulary.mql.<key>` (block style, or `mql: {...}` on one line)."""
    start, end = _block(lines, "vocabulary")
    mql = next((i for i in range(start + 1, end) if re.match(r"^\s+mql\s*:", lines[i])), None)
    if mql is None:
        raise ValueError("vocabulary.mql: not found in the agreement")
    if re.search(rf"[{{,]\s*{key}\s*:", lines[mql]):
        return mql
    indent = len(lines[mql]) - len(lines[mql].lstrip())
    for i in range(mql + 1, end):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#") and len(lines[i]) - len(lines[i].lstrip()) <= indent:
            break
        if re.match(rf"^\s+{key}\s*:", lines[i]):
            return i
    raise ValueError(f"vocabulary.mql.{key}: not found in the agreement")


def _set_value(line: str, key: str, text: str) -> str:
    """`line` with the value of `key` replaced by `text`, a trailing comment kept in its column."""
    pattern = re.compile(rf"(\b{key}\s*:\s*)([^,}}#\s]+)([ \t]*)(?=(#)?)")

    def replace(match: re.Match[str]) -> str:
        spaces = match.group(3)
        if match.group(4):  # keep the comment where it was when the new value fits
            spaces = " " * max(1, len(match.group(2)) + len(spaces) - len(text))
        return match.group(1) + text + spaces

    return pattern.sub(replace, line, count=1)


def _with_mql(lines: list[str], mql: Mapping[str, Any]) -> list[str]:
    lines = list(lines)
    for key, value in mql.items():
        i = _mql_line(lines, key)
        lines[i] = _set_value(lines[i], key, _scalar(value))
    return lines


def mql_changes(agreement: Path, proposal: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (in the agreement, proposed)} of the `vocabulary.mql` keys the proposal changes."""
    _, mql = proposal_parts(proposal)
    current = ((yaml.safe_load(agreement.read_text(encoding="utf-8")) or {}).get("vocabulary") or {}).get(
        "mql"
    ) or {}
    return {k: (current.get(k), v) for k, v in mql.items() if current.get(k) != v}


def scoring_patch(agreement: Path, proposal: Mapping[str, Any], *, relative: str) -> str:
    """A unified diff turning the agreement's `scoring:` block and MQL threshold into the proposal's.

    agreement: the agreement file (read only). proposal: the proposal document (`proposal_parts`).
    relative: the file's path in the repository (the diff's `a/...` and `b/...` names).
    Returns the diff text, empty when the proposal changes nothing. Raises ValueError when the agreement
    has no `scoring:` block or no `vocabulary.mql` key to set.
    """
    text = agreement.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    scoring, mql = proposal_parts(proposal)
    patched = _with_mql(lines, mql)
    start, end = _block(patched, "scoring")
    current = (yaml.safe_load(text) or {}).get("scoring") or {}
    body = yaml.safe_dump(
        {"scoring": merged_scoring(current, scoring)}, sort_keys=False, allow_unicode=True, width=110
    )
    new_lines = [*patched[:start], *body.splitlines(keepends=True), *patched[end:]]
    if new_lines and not new_lines[-1].endswith("\n"):
        new_lines[-1] += "\n"
    written = ((yaml.safe_load("".join(new_lines)) or {}).get("vocabulary") or {}).get("mql") or {}
    for key, value in mql.items():
        if written.get(key) != value:  # a layout the line edit misread: never hand out a wrong patch
            raise ValueError(
                f"vocabulary.mql.{key}: could not set {value!r} (the patch reads {written.get(key)!r})"
            )
    return "".join(difflib.unified_diff(lines, new_lines, fromfile=f"a/{relative}", tofile=f"b/{relative}"))


def write_patch(agreement: Path, proposal: Mapping[str, Any], out: Path, *, relative: str) -> Path:
    """Write `scoring_patch` to `out` (its folder created); returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scoring_patch(agreement, proposal, relative=relative), encoding="utf-8")
    return out
