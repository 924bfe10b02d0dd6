"""The proposal as a reviewable change: a unified diff of the agreement's `scoring:` block and of the MQL
threshold (`vocabulary.mql`), ready for a pull request (`git apply` / `patch -p1`). The agreement file
itself is only read.

The calibration's points live on a scale of their own, so the proposal carries the MQL threshold matched
on that scale: applying new points with the old `min_score` would hand over far more or far fewer leads.
Keys of the `scoring:` block the calibration does not propose (profiles, engagement bands) are kept as
they are. The threshold is changed in place, value only, so the comments around it stay. The SLA tiers'
score conditions (`sla.sales.tiers[].when.min_score`, the hot tier) are on the same old scale: the
proposal carries them matched too, and they are set the same way.

The agreement is the document both teams read, so the patch changes values, not the page: each proposed
key of `scoring:` is merged into the block as it is written (ruamel.yaml's round trip keeps the comments
and flow styles of what stays; rules are matched by `id`), and a line whose content the proposal leaves
alone keeps its spacing and comment byte for byte. The comments above each key are outside the merged
part and always stay.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

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


def proposed_tiers(proposal: Mapping[str, Any]) -> dict[str, float]:
    """{tier id: `when.min_score`} of the SLA tiers a stored proposal sets (none before proposals did)."""
    tiers = (((proposal.get("sla") or {}).get("sales") or {}).get("tiers")) or []
    return {tier["id"]: tier["when"]["min_score"] for tier in tiers}


def _block(
    lines: list[str], key: str, *, within: tuple[int, int] | None = None, indent: int = 0
) -> tuple[int, int]:
    """[start, end) of the `key:` block at `indent` (top level by default, else inside `within`); the
    comment and blank lines just before the next key belong to that key."""
    low, high = within or (-1, len(lines))
    start = next(
        (i for i in range(low + 1, high) if re.match(rf"^ {{{indent}}}{key}\s*:", lines[i])),
        None,
    )
    if start is None:
        raise ValueError(f"the agreement has no `{key}:` block")
    end = next((i for i in range(start + 1, high) if _key_at(lines[i], indent)), high)
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end


def _key_at(line: str, indent: int) -> bool:
    """Whether `line` starts a key at `indent` or shallower (it closes a block at a deeper indent)."""
    stripped = line.lstrip(" ")
    return (
        bool(stripped)
        and not stripped.startswith("#")
        and len(line) - len(stripped) <= indent
        and (_TOP_LEVEL.match(stripped) is not None)
    )


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


def tier_changes(agreement: Path, proposal: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{tier id: (in the agreement, proposed)} of the SLA tiers' `when.min_score` the proposal changes."""
    current = _tier_scores(yaml.safe_load(agreement.read_text(encoding="utf-8")) or {})
    return {t: (current.get(t), v) for t, v in proposed_tiers(proposal).items() if current.get(t) != v}


def _tier_scores(document: Mapping[str, Any]) -> dict[str, Any]:
    tiers = (((document.get("sla") or {}).get("sales") or {}).get("tiers")) or []
    return {tier.get("id"): (tier.get("when") or {}).get("min_score") for tier in tiers}


def _round_trip() -> YAML:
    """ruamel.yaml set to write the agreement's own layout (2-space maps, list dashes indented 2)."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long line the agreement wrote on one
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _merged_node(old: Any, new: Any) -> Any:
    """`new` written into `old` where their shapes match, so what stays keeps its comments and style.

    Mappings keep their keys' order and drop the keys `new` lacks; lists of rules are matched by `id`;
    anything else is replaced. A new mapping takes the flow or block style of its siblings.
    """
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        for key in [k for k in old if k not in new]:
            del old[key]
        flow = any(isinstance(v, CommentedMap) and v.fa.flow_style() for v in old.values())
        for key, value in new.items():
            old[key] = _merged_node(old[key], value) if key in old else _styled(value, flow)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        by_id = {item.get("id"): item for item in old if isinstance(item, CommentedMap) and "id" in item}
        items = [
            _merged_node(by_id[item["id"]], item)
            if isinstance(item, Mapping) and item.get("id") in by_id
            else _styled(item, False)
            for item in new
        ]
        old[:] = items
        return old
    return _styled(new, False)


def _styled(value: Any, flow: bool) -> Any:
    """A new value written as the agreement writes its kind: lists of plain values on one line
    (`[FR, BE]`), a mapping in flow style when its siblings are."""
    if isinstance(value, Mapping):
        node = CommentedMap({k: _styled(v, False) for k, v in value.items()})
        if flow:
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_styled(v, False) for v in value)
        if not any(isinstance(v, Mapping | list) for v in value):
            seq.fa.set_flow_style()
        return seq
    return value


def _normalised(line: str) -> str:
    """A line's content without its spacing and comment (how two layouts of one line compare)."""
    return " ".join(re.sub(r"\s+#.*$", "", line).split())


def _keeping_layout(old: list[str], new: list[str]) -> list[str]:
    """`new`, with each run of lines whose content is unchanged taken from `old` as written."""
    matcher = difflib.SequenceMatcher(
        None, [_normalised(x) for x in old], [_normalised(x) for x in new], autojunk=False
    )
    kept: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        kept.extend(old[i1:i2] if tag == "equal" else new[j1:j2])
    return kept


def _with_scoring(lines: list[str], scoring: Mapping[str, Any]) -> list[str]:
    """`lines` with each proposed key of the `scoring:` block merged in (`_merged_node`)."""
    section = _block(lines, "scoring")
    lines = list(lines)
    for key in PROPOSED_KEYS:
        if key not in scoring:
            continue
        try:
            start, end = _block(lines, key, within=section, indent=2)
        except ValueError:  # a key the agreement lacks goes at the end of the block
            start = end = section[1]
        old = lines[start:end]
        rt = _round_trip()
        current = (
            rt.load("".join(line[2:] if line.startswith("  ") else line for line in old)) or CommentedMap()
        )
        current[key] = _merged_node(current.get(key), scoring[key])
        text = io.StringIO()
        rt.dump(current, text)
        new = ["  " + line if line.strip() else line for line in text.getvalue().splitlines(keepends=True)]
        kept = _keeping_layout(old, new)
        lines[start:end] = kept
        section = (section[0], section[1] + len(kept) - len(old))
    return lines


def _with_tiers(lines: list[str], tiers: Mapping[str, float]) -> list[str]:
    """`lines` with each tier's `when.min_score` in `sla.sales.tiers` set to the proposed one."""
    if not tiers:
        return lines
    start, end = _block(lines, "sla")
    old = lines[start:end]
    rt = _round_trip()
    document = rt.load("".join(old))
    by_id = {t.get("id"): t for t in ((document["sla"] or {}).get("sales") or {}).get("tiers") or []}
    for tier, score in tiers.items():
        when = (by_id.get(tier) or {}).get("when")
        if when is None or "min_score" not in when:
            raise ValueError(f"sla.sales.tiers[{tier}].when.min_score: not found in the agreement")
        when["min_score"] = score
    text = io.StringIO()
    rt.dump(document, text)
    return [*lines[:start], *_keeping_layout(old, text.getvalue().splitlines(keepends=True)), *lines[end:]]


def scoring_patch(agreement: Path, proposal: Mapping[str, Any], *, relative: str) -> str:
    """A unified diff turning the agreement's `scoring:` block, MQL threshold and SLA tier scores into
    the proposal's.

    agreement: the agreement file (read only). proposal: the proposal document (`proposal_parts`).
    relative: the file's path in the repository (the diff's `a/...` and `b/...` names).
    Returns the diff text, empty when the proposal changes nothing. Raises ValueError when the agreement
    has no `scoring:` block, no `vocabulary.mql` key or no SLA tier score to set.
    """
    text = agreement.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    scoring, mql = proposal_parts(proposal)
    ended = [*lines[:-1], lines[-1].rstrip("\n") + "\n"] if lines else []
    new_lines = _with_tiers(_with_scoring(_with_mql(ended, mql), scoring), proposed_tiers(proposal))
    # A layout the edits misread must never hand out a wrong patch: the result is read back and checked.
    written = yaml.safe_load("".join(new_lines)) or {}
    current = (yaml.safe_load(text) or {}).get("scoring") or {}
    if written.get("scoring") != merged_scoring(current, scoring):
        raise ValueError("scoring: the patched block does not read back as the proposal")
    for key, value in mql.items():
        got = ((written.get("vocabulary") or {}).get("mql") or {}).get(key)
        if got != value:
            raise ValueError(f"vocabulary.mql.{key}: could not set {value!r} (the patch reads {got!r})")
    written_tiers = _tier_scores(written)
    for tier, value in proposed_tiers(proposal).items():
        if written_tiers.get(tier) != value:
            raise ValueError(
                f"sla.sales.tiers[{tier}].when.min_score: could not set {value!r} "
                f"(the patch reads {written_tiers.get(tier)!r})"
            )
    return "".join(difflib.unified_diff(lines, new_lines, fromfile=f"a/{relative}", tofile=f"b/{relative}"))


def write_patch(agreement: Path, proposal: Mapping[str, Any], out: Path, *, relative: str) -> Path:
    """Write `scoring_patch` to `out` (its folder created); returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scoring_patch(agreement, proposal, relative=relative), encoding="utf-8")
    return out
