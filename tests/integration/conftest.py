"""Fixtures several integration modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
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


@pytest.fixture()
def wh(clean_warehouse: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """An emptied warehouse: its DSN and an autocommit connection to build a case with."""
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        yield clean_warehouse, conn
