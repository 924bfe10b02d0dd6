"""Airflow hooks of the API sources: an Airflow connection → credentials → a rate-limited client.

A hook owns everything about reaching its system (STYLE.md, like the postgres provider's): the default
connection id, the connection type and its form in the Airflow UI (`CONNECTION`, plain data from
`smarketing.sources.connection_forms`, published through the package's provider metadata,
`smarketing.provider`), how the connection's
fields become credentials, and `test_connection()` behind the UI's Test button. The DAG tasks, the CLI
and the score write-back all build their clients through a hook; nothing else reads a connection.

Connection fields: `host` is the API's base URL (`https://api.hubapi.com`, `http://127.0.0.1:8765`; a
bare host gets `https://`, or `http://` for a connection of type `http`), `port` is appended when given;
`password` is the token (HubSpot private app) or the password (Mautic basic auth, with `login`); `extra`
holds options (`auth`, `client_id`, `client_secret`, `rate_limits`, `page_limit`, ...). Inside a task the
secrets are registered with Airflow's log masker; no repr or error message shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from airflow.sdk.bases.hook import BaseHook

from smarketing.errors import ConfigurationError, SmarketingError
from smarketing.sources.http import ApiClient, ApiCredentials, ApiError, RetryPolicy, Timeouts

# The Test button waits for one answer, not for a task's patience: two attempts, short timeouts.
TEST_RETRY = RetryPolicy(attempts=2, initial_wait=0.5, max_wait=1.0, max_retry_after=2.0, max_elapsed=30.0)
TEST_TIMEOUTS = Timeouts(connect=5.0, read=15.0)


def base_url(host: str | None, schema: str | None, port: int | None, conn_type: str | None) -> str:
    """The API base URL from a connection's host (a URL or a bare host name), schema and port."""
    if not host:
        raise ConfigurationError("the connection has no host (the API's base URL)")
    if "://" not in host:
        scheme = schema if schema in {"http", "https"} else ("https" if conn_type != "http" else "http")
        host = f"{scheme}://{host}"
    if port and host.count(":") < 2:
        host = f"{host}:{port}"
    return host.rstrip("/")


class ApiHook(BaseHook):
    """Base of the HubSpot and Mautic hooks.

    :param conn_id: the Airflow connection (default: the class's `default_conn_name`).
    :param credentials: credentials to use instead of reading the connection (tests, benches).
    """

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    # The connection type's entry of the provider metadata (`connection_forms`): type, name, form.
    CONNECTION: ClassVar[dict[str, Any]]
    # One cheap authenticated GET (path, query) for test_connection().
    TEST_REQUEST: ClassVar[tuple[str, Mapping[str, Any]]]

    def __init__(self, conn_id: str | None = None, *, credentials: ApiCredentials | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- credentials --------------------------------------------------------------------------------
    def get_credentials(self) -> ApiCredentials:
        """The connection's credentials (read once per hook); SmarketingError names a missing one."""
        if self._credentials is None:
            self._credentials = self._read_connection()
        return self._credentials

    def _read_connection(self) -> ApiCredentials:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            raise ConfigurationError(
                f"Airflow connection '{self.conn_id}' is not defined (set AIRFLOW_CONN_{self.conn_id.upper()} "
                "or add it in the Airflow UI)"
            ) from None
        except Exception as exc:  # a lookup that failed (API server, secrets backend): may pass later
            raise SmarketingError(
                f"Airflow connection '{self.conn_id}' could not be read: {type(exc).__name__}"
            ) from None
        extra = conn.extra_dejson if conn.extra else {}
        try:
            url = base_url(conn.host, conn.schema, conn.port, conn.conn_type)
        except SmarketingError as exc:
            raise SmarketingError(f"Airflow connection '{self.conn_id}': {exc}") from None
        creds = ApiCredentials(
            base_url=url,
            token=extra.get("access_token") or (conn.password if not conn.login else None),
            login=conn.login or None,
            password=conn.password if conn.login else None,
            extra=extra,
        )
        _mask(creds.secrets)
        return creds

    @property
    def extra(self) -> Mapping[str, Any]:
        """The connection's extra: options that settings read under the source entry's own."""
        return self.get_credentials().extra

    # -- clients ------------------------------------------------------------------------------------
    def client(self, settings: Any = None) -> ApiClient:
        """A client for this connection; `settings` (the connector's) gives source name, limits,
        retries and timeouts (default: the connector's defaults)."""
        raise NotImplementedError

    def get_conn(self) -> ApiClient:
        """A client with the connector's default settings (Airflow's hook protocol)."""
        return self.client()

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated request (the UI's Test button): (worked, what happened)."""
        path, params = self.TEST_REQUEST
        try:
            client = self._test_client()
            with client:
                client.get_json(path, params=dict(params))
        except (ApiError, SmarketingError, ValueError, KeyError, requests.RequestException) as exc:
            return False, str(exc)
        return True, f"{self.hook_name}: authenticated at {client.base_url} (GET {path})"

    def _test_client(self) -> ApiClient:
        raise NotImplementedError

    # -- the connection form ------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form (Airflow's hook protocol)."""
        behaviour = cls.CONNECTION["ui-field-behaviour"]
        return {
            "hidden_fields": list(behaviour.get("hidden-fields", [])),
            "relabeling": dict(behaviour.get("relabeling", {})),
            "placeholders": dict(behaviour.get("placeholders", {})),
        }


def _mask(secrets: list[str]) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - airflow is a dependency, but the masker is optional
        return
    for secret in secrets:
        mask_secret(secret)
