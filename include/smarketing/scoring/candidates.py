"""Scoring models from files other than the active agreement: a full agreement, or only a `scoring:`
section (what `smarketing calibrate` writes) dropped into the active agreement for the rest.

Either way the result goes through the agreement's validation, so a candidate with an unknown field,
event type or list fails with the key path of the problem before anything is scored.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml

from smarketing.scoring.model import ScoringModel, compile_model

_LINE = re.compile(r" \(line \d+\)$")


def load_candidate(path: Path, *, base: Path | None = None) -> ScoringModel:
    from smarketing import paths
    from smarketing.config import ConfigError, load_config

    path = Path(path)
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict) or "scoring" not in document:
        raise ConfigError(path, ["(file): expected a `scoring:` section (or a whole agreement)"])
    if "organization" in document:
        return compile_model(load_config(path))
    merged = yaml.safe_load(Path(base or paths.DEFAULT_CONFIG).read_text(encoding="utf-8"))
    merged["scoring"] = document["scoring"]
    merged["lists"] = {**(merged.get("lists") or {}), **(document.get("lists") or {})}
    if "vocabulary" in document and "mql" in (document["vocabulary"] or {}):
        merged.setdefault("vocabulary", {})["mql"] = document["vocabulary"]["mql"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        yaml.safe_dump(merged, handle, sort_keys=False, allow_unicode=True)
        temporary = Path(handle.name)
    try:
        return compile_model(load_config(temporary))
    except ConfigError as exc:
        # Line numbers would point into the merged copy, not into the candidate file.
        raise ConfigError(path, [_LINE.sub("", p) for p in exc.problems]) from None
    finally:
        temporary.unlink(missing_ok=True)
