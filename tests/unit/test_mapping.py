"""Source mapping validation: every problem reported with its key path, before any file is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from smarketing.paths import CONFIG_DIR, PROJECT_ROOT
from smarketing.sources.mapping import MappingError, load_mapping, parse_mapping


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(MappingError) as err:
        parse_mapping(data)
    return err.value.problems


def one_file(**spec: Any) -> dict[str, Any]:
    return {
        "source_system": "crm",
        "files": [{"object": "leads", "path": "contacts.csv", "id": "id", **spec}],
    }


def test_shipped_mappings_are_valid() -> None:
    for path in [
        *sorted((CONFIG_DIR / "sources").glob("*.yaml")),
        PROJECT_ROOT / "examples/olist/mapping.yaml",
    ]:
        mapping = load_mapping(path)
        assert mapping.files, path


def test_unknown_key_is_named_by_its_path() -> None:
    assert problems(one_file(colums={"email": "email"})) == ["files[0].colums: unknown key"]
    assert problems({"source_system": "crm", "files": [], "sorce": 1}) == [
        "files: list at least one file",
        "sorce: unknown key",
    ]


def test_unknown_object_is_named() -> None:
    data = one_file()
    data["files"][0]["object"] = "contacts"
    [problem] = problems(data)
    assert problem.startswith("files[0].object: unknown object 'contacts' (objects: leads, companies")


def test_unknown_canonical_field_is_named_in_every_section() -> None:
    found = problems(
        one_file(
            columns={"e_mail": "email"},
            values={"stage": {"MQL": "marketingqualifiedlead"}},
            constants={"colour": "blue"},
            rules=[{"when": {"column": "x", "equals": "y"}, "set": {"persona": "z"}}],
        )
    )
    fields = (
        "(fields: email, job_title, country, company_source_id, lifecycle_stage, owner_source_id, "
        "owner_assigned_at, created_at, updated_at, consent_email, unsubscribed_at, merged_source_ids)"
    )
    assert found == [
        f"files[0].columns.e_mail: not a canonical field of leads {fields}",
        f"files[0].values.stage: not a canonical field of leads {fields}",
        f"files[0].constants.colour: not a canonical field of leads {fields}",
        f"files[0].rules[0].set.persona: not a canonical field of leads {fields}",
    ]


def test_required_fields_and_ids() -> None:
    data = {"source_system": "ma", "files": [{"object": "marketing_events", "path": "a.csv", "columns": {}}]}
    assert problems(data) == [
        "files[0].columns.lead_source_id: marketing_events needs lead_source_id (map a column, or give it under constants)",
        "files[0].columns.event_type: marketing_events needs event_type (map a column, or give it under constants)",
        "files[0].columns.occurred_at: marketing_events needs occurred_at (map a column, or give it under constants)",
        "files[0].id: marketing_events needs the column(s) that identify a record",
    ]
    # lifecycle_history has a default id template, and a rule may provide a required field
    ok = parse_mapping(
        {
            "source_system": "crm",
            "files": [
                {
                    "object": "lifecycle_history",
                    "path": "h.csv",
                    "columns": {"lead_source_id": "contact", "entered_at": "at"},
                    "rules": [{"when": {"column": "kind", "in": ["a", "b"]}, "set": {"stage": "lead"}}],
                }
            ],
        }
    )
    assert ok.files[0].id_template == "{lead_source_id}|{stage}"
    assert ok.files[0].required_columns() == ("contact", "at")


def test_values_supplied_by_the_mapping_must_have_the_field_type() -> None:
    found = problems(
        one_file(
            constants={"created_at": "yesterday"},
            values={"consent_email": {"1": "maybe"}},
        )
    )
    assert found == [
        "files[0].constants.created_at: 'yesterday' is not a timestamp (ISO 8601, e.g. 2026-11-03T14:05:00Z)",
        "files[0].values.consent_email: 'maybe' is not a boolean (true or false)",
    ]


def test_yaml_scalars_become_source_text() -> None:
    text = """
source_system: crm
booleans: {true: [oui, "1"], false: [non, "0"]}
files:
  - object: leads
    path: contacts.csv
    id: [system, id]
    values:
      consent_email: {true: false, 0: true}
    rules:
      - when: {column: flag, equals: 1}
        set: {consent_email: false}
"""
    mapping = parse_mapping(yaml.safe_load(text))
    spec = mapping.files[0]
    assert spec.values == {"consent_email": {"true": "false", "0": "true"}}
    assert spec.rules[0].when[0].equals == "1"
    assert spec.id_columns == ("system", "id")
    assert mapping.booleans_for(spec) == {
        "oui": True,
        "1": True,
        "non": False,
        "0": False,
        "true": True,
        "false": False,
    }


def test_other_problems_are_listed_together() -> None:
    found = problems(
        {
            "source_system": "CRM export",
            "timezone": "Mars/Olympus",
            "files": [
                {
                    "object": "leads",
                    "path": "x.json",
                    "id": "id",
                    "constants": {"email": "a@b.example"},
                    "columns": {"email": "mail"},
                },
                {"object": "owners", "path": "o.csv", "id": "{owner", "delimiter": ";;"},
                {
                    "object": "deals",
                    "path": "d.csv",
                    "id": "id",
                    "rules": [{"when": {"column": "s"}, "set": {}}],
                },
            ],
        }
    )
    assert "source_system: String should match pattern '^[a-z][a-z0-9_]*$'" in found
    assert "timezone: unknown time zone 'Mars/Olympus'" in found
    assert "files[0].constants.email: a constant holds for every row; remove it from columns" in found
    assert "files[0].format: cannot tell from 'x.json'; give csv or parquet" in found
    assert any(p.startswith("files[1].delimiter:") for p in found)
    assert "files[2].rules[0].when[0]: give exactly one of equals, in, contains, empty" in found


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="file not found"):
        load_mapping(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("source_system: [unclosed", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(MappingError, match="must hold a mapping"):
        load_mapping(bad)
