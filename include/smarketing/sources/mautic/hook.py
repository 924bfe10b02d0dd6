"""The Mautic hook: connection type `mautic` (basic auth, or OAuth2 client credentials)."""

from __future__ import annotations

from typing import Any

from smarketing.sources.connection_forms import MAUTIC
from smarketing.sources.hooks import TEST_RETRY, TEST_TIMEOUTS, ApiHook
from smarketing.sources.http import ApiClient, ApiCredentials, RetryPolicy, Timeouts
from smarketing.sources.mautic.auth import BasicAuth, OAuth2ClientCredentials
from smarketing.sources.mautic.settings import CONN_ID, MauticSettings


class MauticHook(ApiHook):
    """Reaches Mautic's REST API with basic auth (connection login / password) or, when the extra says
    `auth: oauth2`, the OAuth2 client-credentials grant (`client_id`, `client_secret`, `token_url`).

    :param conn_id: the Airflow connection (default `smarketing_mautic`).
    """

    default_conn_name = CONN_ID
    CONNECTION = MAUTIC
    conn_type = MAUTIC["connection-type"]
    hook_name = MAUTIC["hook-name"]
    # One contact, its core fields only: the cheapest authenticated read of the API.
    TEST_REQUEST = ("/api/contacts", {"limit": 1, "minimal": "true"})

    def client(self, settings: MauticSettings | None = None) -> ApiClient:
        """A client with `settings`' source name, rate limits, retries and timeouts, and the auth the
        connection asks for; ValueError when it gives neither a login nor OAuth2 client credentials."""
        settings = settings or MauticSettings.from_config({}, self.extra)
        return self._client(settings.source_system, settings.limits, settings.retry, settings.timeouts)

    def _test_client(self) -> ApiClient:
        return self._client("mautic", {}, TEST_RETRY, TEST_TIMEOUTS)

    def _client(self, source: str, limits: Any, retry: RetryPolicy, timeouts: Timeouts) -> ApiClient:
        credentials = self.get_credentials()
        return ApiClient(
            source, credentials, limits=limits, retry=retry, timeouts=timeouts, auth=_auth(credentials)
        )


def _auth(credentials: ApiCredentials) -> Any:
    extra = credentials.extra or {}
    if extra.get("auth") == "oauth2":
        return OAuth2ClientCredentials(
            str(extra.get("token_url") or credentials.base_url.rstrip("/") + "/oauth/v2/token"),
            str(extra["client_id"]),
            str(extra["client_secret"]),
        )
    if credentials.login and credentials.password:
        return BasicAuth(credentials.login, credentials.password)
    raise ValueError(
        "the Mautic connection needs login and password, or extra.auth = oauth2 with client_id/client_secret"
    )
