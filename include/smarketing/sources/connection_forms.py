"""The connection types of the API sources as plain data: their hooks and Airflow connection forms.

Airflow's ProvidersManager reads them through the package's provider metadata (`smarketing.provider`)
in every Airflow process, before and without importing a hook, so this module imports nothing; the
hooks (`HubSpotHook`, `MauticHook`) take their type, name and form from here. Field schemas follow
Airflow 3's `conn-fields` (JSON schema; `format: password` marks a secret); values land in the
connection's extra under the field's name, where the source settings read them.
"""

from __future__ import annotations

from typing import Any

# Options every API connection may set in its extra (read by `smarketing.sources.settings`).
COMMON_FIELDS: dict[str, dict[str, Any]] = {
    "page_limit": {
        "label": "Page size",
        "description": "Records per API page (default: the API's maximum).",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "lag_seconds": {
        "label": "Lag (seconds)",
        "description": "How far behind now a pull stops, for the API's indexing delay.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
}

HUBSPOT: dict[str, Any] = {
    "hook-class-name": "smarketing.sources.hubspot.hook.HubSpotHook",
    "hook-name": "HubSpot",
    "connection-type": "hubspot",
    "conn-fields": dict(COMMON_FIELDS),
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login"],
        "relabeling": {"host": "API base URL", "password": "Private app access token"},
        "placeholders": {"host": "https://api.hubapi.com", "password": "pat-eu1-..."},
    },
}

MAUTIC: dict[str, Any] = {
    "hook-class-name": "smarketing.sources.mautic.hook.MauticHook",
    "hook-name": "Mautic",
    "connection-type": "mautic",
    "conn-fields": {
        "auth": {
            "label": "Authentication",
            "description": "basic: login and password below; oauth2: the client credentials grant.",
            "schema": {"type": ["string", "null"], "enum": ["basic", "oauth2"], "default": "basic"},
        },
        "client_id": {"label": "OAuth2 client id", "schema": {"type": ["string", "null"]}},
        "client_secret": {
            "label": "OAuth2 client secret",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "token_url": {
            "label": "OAuth2 token URL",
            "description": "Default: <Mautic URL>/oauth/v2/token.",
            "schema": {"type": ["string", "null"]},
        },
        **COMMON_FIELDS,
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port"],
        "relabeling": {
            "host": "Mautic URL",
            "login": "Username (basic auth)",
            "password": "Password (basic auth)",
        },
        "placeholders": {"host": "https://mautic.example.com"},
    },
}

CONNECTION_TYPES: tuple[dict[str, Any], ...] = (HUBSPOT, MAUTIC)
