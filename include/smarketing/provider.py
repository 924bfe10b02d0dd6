"""The package's Airflow provider metadata (entry point `apache_airflow_provider` in pyproject.toml).

Airflow's ProvidersManager reads it to learn the connection types this package brings — `hubspot` and
`mautic` — with their hooks and connection forms, so the UI lists them under Admin → Connections, shows
their fields, and its Test button calls the hook's `test_connection()`. The forms are declared on the
hook classes (`CONN_FIELDS`, `UI_FIELD_BEHAVIOUR`); Airflow 3.2+ reads them from here without importing
the hooks (the `get_connection_form_widgets` hook method is deprecated there and needs Flask-AppBuilder).
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "smarketing"


def get_provider_info() -> dict[str, Any]:
    """Provider info as Airflow's `provider_info.schema.json` describes it."""
    from smarketing.sources.hubspot.hook import HubSpotHook
    from smarketing.sources.mautic.hook import MauticHook

    return {
        "package-name": PACKAGE_NAME,
        "name": "Smarketing",
        "description": "The sales-marketing agreement as Airflow pipelines: HubSpot and Mautic connections.",
        "connection-types": [HubSpotHook.connection_type_info(), MauticHook.connection_type_info()],
    }
