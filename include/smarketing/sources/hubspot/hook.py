"""The HubSpot hook: connection type `hubspot` (a private app's access token)."""

from __future__ import annotations

from smarketing.sources.connection_forms import HUBSPOT
from smarketing.sources.hooks import TEST_RETRY, TEST_TIMEOUTS, ApiHook
from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.settings import CONN_ID, HubSpotSettings


class HubSpotHook(ApiHook):
    """Reaches HubSpot's CRM v3 API with a private app's access token (bearer).

    :param conn_id: the Airflow connection (default `smarketing_hubspot`).
    """

    default_conn_name = CONN_ID
    CONNECTION = HUBSPOT
    conn_type = HUBSPOT["connection-type"]
    hook_name = HUBSPOT["hook-name"]
    # The owners list is the lightest authenticated read every connector configuration needs.
    TEST_REQUEST = ("/crm/v3/owners/", {"limit": 1})

    def client(self, settings: HubSpotSettings | None = None) -> ApiClient:
        """A client with `settings`' source name, rate limits (HubSpot's buckets), retries, timeouts."""
        settings = settings or HubSpotSettings.from_config({}, self.extra)
        return ApiClient(
            settings.source_system,
            self.get_credentials(),
            limits=settings.limits,
            retry=settings.retry,
            timeouts=settings.timeouts,
        )

    def _test_client(self) -> ApiClient:
        return ApiClient("hubspot", self.get_credentials(), retry=TEST_RETRY, timeouts=TEST_TIMEOUTS)
