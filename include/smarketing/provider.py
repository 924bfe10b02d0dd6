"""The package's Airflow provider metadata (entry point `apache_airflow_provider` in pyproject.toml).

Airflow's ProvidersManager reads it to learn the connection types this package brings — `hubspot` and
`mautic` — with their hooks and connection forms, so the UI lists them under Admin → Connections, shows
their fields, and its Test button calls the hook's `test_connection()`. Every Airflow process calls
this while discovering providers, so it imports nothing but the forms as plain data
(`smarketing.sources.connection_forms`): a broken import here would break Airflow, not just our DAGs.
Airflow 3.2+ reads the forms from here (`conn-fields`, `ui-field-behaviour`) without importing the hooks;
the hook method `get_connection_form_widgets` is deprecated there and needs Flask-AppBuilder.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "smarketing"


def get_provider_info() -> dict[str, Any]:
    """Provider info as Airflow's `provider_info.schema.json` describes it."""
    from smarketing.sources.connection_forms import CONNECTION_TYPES

    return {
        "package-name": PACKAGE_NAME,
        "name": "Smarketing",
        "description": "The sales-marketing agreement as Airflow pipelines: HubSpot and Mautic connections.",
        "connection-types": [dict(kind) for kind in CONNECTION_TYPES],
    }
