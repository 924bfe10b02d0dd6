"""The core build behind the quality gate: only batches with a verdict reach core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smarketing.cli import app
from smarketing.paths import CONFIG_DIR
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import load_settings
from smarketing.sources.files import ingest_source
from smarketing.warehouse.core_build import build_core
from smarketing_sandbox.world import generate_world
from tests.integration.sandbox_support import WORLD_END

from .test_core_build import AGREEMENT, core_counts

pytestmark = pytest.mark.integration

CRM = CONFIG_DIR / "sources" / "sandbox_crm.yaml"
MA = CONFIG_DIR / "sources" / "sandbox_ma.yaml"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gate") / "world"
    generate_world(out, contacts=300, seed=5, days=60, end=WORLD_END)
    return out


def validate(dsn: str, run_id: str, tmp_path: Path) -> None:
    docs = {
        "data_docs": {"enabled": False, "dir": str(tmp_path / "docs"), "project_dir": str(tmp_path / "gx")}
    }
    validate_raw(dsn, run_id=run_id, settings=load_settings(CONFIG_DIR / "quality.yaml", docs))


def test_a_batch_without_a_verdict_waits_for_its_validation(
    clean_warehouse: str, world: Path, tmp_path: Path
) -> None:
    ingest_source(clean_warehouse, CRM, root=world, run_id="crm")
    assert not any(build_core(clean_warehouse, AGREEMENT, validated_only=True).values())
    assert set(core_counts(clean_warehouse).values()) == {0}

    validate(clean_warehouse, "gate-1", tmp_path)
    build_core(clean_warehouse, AGREEMENT, validated_only=True)
    first = core_counts(clean_warehouse)
    assert first["leads"] > 0 and first["marketing_events"] == 0

    # A delivery landed after the validation stays out until it is validated in turn.
    ingest_source(clean_warehouse, MA, root=world, run_id="ma")
    assert not any(build_core(clean_warehouse, AGREEMENT, validated_only=True).values())
    assert core_counts(clean_warehouse) == first
    validate(clean_warehouse, "gate-2", tmp_path)
    assert build_core(clean_warehouse, AGREEMENT, validated_only=True)["marketing_events"] > 0


def test_cli_validates_before_it_builds(clean_warehouse: str, world: Path) -> None:
    ingest_source(clean_warehouse, CRM, root=world, run_id="crm")
    result = CliRunner().invoke(app, ["ingest", "core", "--dsn", clean_warehouse, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["validation"].startswith("raw validation") and " passed " in printed["validation"]
    assert printed["core"]["leads"] == core_counts(clean_warehouse)["leads"] > 0
