"""Mautic authentication: basic (login / password) or OAuth2 client credentials."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Mapping

import requests

from smarketing.sources.http import ApiClient, ApiError


class BasicAuth:
    """`Authorization: Basic ...` from a login and password."""

    def __init__(self, login: str, password: str) -> None:
        self._header = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()

    def __call__(self, client: ApiClient) -> Mapping[str, str]:
        return {"Authorization": self._header}

    def __repr__(self) -> str:
        return "BasicAuth(***)"


class OAuth2ClientCredentials:
    """OAuth2 client-credentials grant against `{base}/oauth/v2/token`; renewed before expiry or on 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url, self._client_id, self._secret = token_url, client_id, client_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(token_url={self.token_url!r})"

    def __call__(self, client: ApiClient) -> Mapping[str, str]:
        with self._lock:
            if self._token is None or time.monotonic() > self._expires - 60:
                self._token, self._expires = self._fetch(client)
            return {"Authorization": f"Bearer {self._token}"}

    def renew(self) -> bool:
        """Forget the token (the client asks after a 401); True when there was one to forget."""
        with self._lock:
            had = self._token is not None
            self._token = None
            return had

    def _fetch(self, client: ApiClient) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret,
        }
        try:
            response = client.session.post(
                self.token_url, data=data, timeout=(client.timeouts.connect, client.timeouts.read)
            )
        except requests.RequestException as exc:
            raise ApiError(
                client.source, "POST", "/oauth/v2/token", None, f"token request failed ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise ApiError(
                client.source,
                "POST",
                "/oauth/v2/token",
                response.status_code,
                "the token request was refused",
            )
        body = response.json()
        return str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 3600))
