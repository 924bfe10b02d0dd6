"""The one lookup order for settings a run may override: param, else Airflow Variable, else environment
variable, else default. Airflow Variables are set the way Airflow reads them (AIRFLOW_VAR_<NAME>)."""

from __future__ import annotations

import pytest

from smarketing.airflow_support import (
    configured_api_sources,
    configured_file_sources,
    json_run_setting,
    run_setting,
)

VARIABLE, ENV = "smarketing_test_setting", "SMARKETING_TEST_SETTING"
AIRFLOW_VAR = "AIRFLOW_VAR_SMARKETING_TEST_SETTING"


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV, AIRFLOW_VAR):
        monkeypatch.delenv(name, raising=False)


def test_each_level_wins_over_the_ones_below(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_setting(None, VARIABLE, ENV, "default") == "default"
    assert run_setting(None, VARIABLE, ENV) is None
    monkeypatch.setenv(ENV, "from-env")
    assert run_setting(None, VARIABLE, ENV, "default") == "from-env"
    monkeypatch.setenv(AIRFLOW_VAR, "from-variable")
    assert run_setting(None, VARIABLE, ENV, "default") == "from-variable"
    assert run_setting(7, VARIABLE, ENV, "default") == 7


def test_a_given_param_counts_even_when_empty_and_an_empty_variable_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(AIRFLOW_VAR, "")
    monkeypatch.setenv(ENV, "from-env")
    assert run_setting(None, VARIABLE, ENV) == "from-env"
    assert run_setting([], VARIABLE, ENV) == []
    assert run_setting(False, VARIABLE, ENV) is False


def test_json_settings_are_parsed_and_a_bad_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, '[{"system": "mautic"}]')
    assert json_run_setting(None, VARIABLE, ENV) == [{"system": "mautic"}]
    assert json_run_setting([{"system": "hubspot"}], VARIABLE, ENV) == [{"system": "hubspot"}]
    monkeypatch.setenv(AIRFLOW_VAR, "[not json")
    with pytest.raises(ValueError, match=f"{VARIABLE} / {ENV} is not valid JSON"):
        json_run_setting(None, VARIABLE, ENV)


def test_sources_and_alerts_follow_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarketing.sla.alerts import with_overrides
    from smarketing.sla.settings import AlertSettings

    monkeypatch.setenv("SMARKETING_API_SOURCES", '[{"system": "from-env"}]')
    monkeypatch.setenv("AIRFLOW_VAR_SMARKETING_API_SOURCES", '[{"system": "from-variable"}]')
    assert configured_api_sources(None) == [{"system": "from-variable"}]
    assert configured_api_sources([]) == []
    monkeypatch.delenv("AIRFLOW_VAR_SMARKETING_FILE_SOURCES", raising=False)
    monkeypatch.setenv("SMARKETING_FILE_SOURCES", '[{"mapping": "m.yaml"}]')
    assert configured_file_sources(None) == [{"mapping": "m.yaml"}]
    # Alerts used to read the environment before the Variable: now the one order holds there too.
    monkeypatch.setenv("SMARKETING_SLA_ALERTS", '{"team": "env@example.com"}')
    monkeypatch.setenv("AIRFLOW_VAR_SMARKETING_SLA_ALERTS", '{"team": "variable@example.com"}')
    assert with_overrides(AlertSettings()).team_to == "variable@example.com"


def test_object_lists_are_validated_and_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarketing.run_settings import API_SOURCE_SCHEMA, RunSettingError, object_list_setting

    def sources(param):
        return object_list_setting("api_sources", param, VARIABLE, ENV, API_SOURCE_SCHEMA)

    # A form's text area sends JSON texts in the list: each is parsed.
    assert sources(['{"system": "mautic"}', {"system": "hubspot"}]) == [
        {"system": "mautic"},
        {"system": "hubspot"},
    ]
    with pytest.raises(RunSettingError, match=r"param 'api_sources'\[0\]: 'system' is a required property"):
        sources([{"objects": ["contacts"]}])
    with pytest.raises(RunSettingError, match=r"param 'api_sources'\[1\] is not valid JSON"):
        sources([{"system": "mautic"}, "{system: hubspot}"])
    with pytest.raises(
        RunSettingError, match=r"param 'api_sources'\[0\]\.objects: 'contacts' is not of type 'array'"
    ):
        sources([{"system": "hubspot", "objects": "contacts"}])
    monkeypatch.delenv(AIRFLOW_VAR, raising=False)
    monkeypatch.setenv(ENV, '{"system": "mautic"}')
    with pytest.raises(RunSettingError, match=f"{VARIABLE} / {ENV}: expected a list of objects, got dict"):
        sources(None)
    monkeypatch.setenv(ENV, "")
    assert sources(None) == []
