"""Fixtures several integration modules share."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smarketing.paths import CONFIG_DIR


@pytest.fixture()
def docs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The quality settings with Data Docs (and the GX store) in this test's own folder."""
    settings = yaml.safe_load((CONFIG_DIR / "quality.yaml").read_text())
    settings["data_docs"].update(dir=str(tmp_path / "docs"), project_dir=str(tmp_path / "gx"))
    (tmp_path / "quality.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("SMARKETING_QUALITY_CONFIG", str(tmp_path / "quality.yaml"))
    return tmp_path / "docs"
