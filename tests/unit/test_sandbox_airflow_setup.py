"""Sandbox mode of `make airflow`: when the sandbox runs, and what counts as a real source."""

from __future__ import annotations

import pytest

from smarketing_sandbox.airflow_setup import SANDBOX_MARK, decide, real_settings


def test_nothing_configured_is_sandbox_on() -> None:
    assert real_settings({}, {}) == []
    assert decide("auto", []).on


def test_the_sandbox_own_entries_are_not_real() -> None:
    stored = {"smarketing_hubspot": SANDBOX_MARK, "smarketing_api_sources": SANDBOX_MARK}
    assert real_settings({"PATH": "/bin"}, stored) == []


def test_entries_a_person_made_and_source_environment_are_real() -> None:
    stored = {
        "smarketing_mautic": None,
        "smarketing_hubspot": SANDBOX_MARK,
        "smarketing_file_sources": "ours",
    }
    env = {"SMARKETING_API_SOURCES": '[{"system": "hubspot"}]', "AIRFLOW_CONN_SMARKETING_MAUTIC": ""}
    real = real_settings(env, stored)
    assert real == ["SMARKETING_API_SOURCES", "smarketing_file_sources", "smarketing_mautic"]
    decision = decide("auto", real)
    assert not decision.on
    assert "SMARKETING_API_SOURCES, smarketing_file_sources, smarketing_mautic" in decision.reason


def test_forcing_the_sandbox_over_real_sources_is_refused() -> None:
    with pytest.raises(ValueError, match=r"real sources are configured \(smarketing_mautic\)"):
        decide("on", ["smarketing_mautic"])
    assert not decide("off", []).on
    with pytest.raises(ValueError, match="expected auto, on or off"):
        decide("yes", [])
