"""config/quality.yaml: defaults, overlays, and every mistake named by its key path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from smarketing.config import load_config
from smarketing.paths import CONFIG_DIR, PROJECT_ROOT
from smarketing.quality.checks import check_severity_overrides
from smarketing.quality.expectations import Context
from smarketing.quality.settings import DATA_DOCS_ENV, QualityConfigError, load_settings, parse_settings


def test_the_shipped_file_is_valid_and_sets_the_documented_defaults() -> None:
    settings = load_settings(CONFIG_DIR / "quality.yaml")
    assert settings.gate.max_quarantine_share == 0.05
    assert settings.timestamps.future_tolerance == 10
    assert settings.freshness.max_age == 26 * 60
    assert settings.volume.min_share_of_usual == 0.2
    assert settings.data_docs.site_dir() == PROJECT_ROOT / ".local" / "data_docs"


def test_every_problem_is_reported_with_its_key_path() -> None:
    with pytest.raises(QualityConfigError) as caught:
        parse_settings(
            {
                "gate": {"max_quarantine_share": 2},
                "timestamps": {"future_tolerance": 10},
                "volume": {"severity": "fatal"},
                "sources": {"hubspot": {"leads": [{"id": "x", "field": "email"}]}},
                "colour": "blue",
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "gate.max_quarantine_share" in problems
    assert "timestamps.future_tolerance" in problems and "'10m'" in problems
    assert "volume.severity" in problems
    assert "sources.hubspot.leads[0]" in problems and "exactly one rule" in problems
    assert "colour" in problems
    assert len(caught.value.problems) == 5


def test_overlays_are_laid_over_the_base_key_by_key(tmp_path: Path) -> None:
    overlay = tmp_path / "extra.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {"gate": {"max_quarantine_share": 0.2}, "freshness": {"sources": {"hubspot.owners": "7d"}}}
        )
    )
    settings = load_settings(
        CONFIG_DIR / "quality.yaml", overlay, {"freshness": {"sources": {"hubspot": "2h"}}}
    )
    assert settings.gate.max_quarantine_share == 0.2
    assert settings.freshness.max_age_for("hubspot", "owners") == 7 * 24 * 60
    assert settings.freshness.max_age_for("hubspot", "leads") == 120
    assert settings.freshness.max_age_for("mautic", "leads") == 26 * 60
    assert settings.timestamps.future_tolerance == 10  # untouched keys keep the base value


def test_the_maven_example_parses(project_root: Path) -> None:
    settings = load_settings(
        CONFIG_DIR / "quality.yaml", project_root / "examples" / "maven_crm" / "quality.yaml"
    )
    ids = {c.id: c.severity for c in settings.extra_checks("maven_crm", "deals")}
    assert ids == {"product_in_catalogue": "critical", "company_present": "warning"}


def test_a_severity_override_must_name_an_existing_check() -> None:
    agreement = load_config()
    good = parse_settings({"severities": {"raw.deals.company_resolves": "critical"}})
    ctx = Context.from_agreement(good, agreement, datetime(2026, 11, 23, tzinfo=UTC))
    check_severity_overrides(ctx)
    bad = parse_settings({"severities": {"raw.deals.company_resolve": "critical"}})
    with pytest.raises(QualityConfigError, match=r"severities\.raw\.deals\.company_resolve: no such check"):
        check_severity_overrides(Context.from_agreement(bad, agreement, datetime(2026, 11, 23, tzinfo=UTC)))


def test_the_data_docs_directory_can_be_set_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DOCS_ENV, str(tmp_path / "docs"))
    assert load_settings(CONFIG_DIR / "quality.yaml").data_docs.site_dir() == tmp_path / "docs"
