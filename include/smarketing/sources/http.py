"""HTTP foundation for the API sources: one session per source, rate-limited, retried, credential-safe.

* **Rate limits** are enforced on the client with sliding windows ("at most N requests in any T
  seconds"), one window per bucket (HubSpot: `general` 190/10 s, `search` 5/s). The client keeps a
  small headroom below the advertised limit: the server counts arrivals, we count departures, and
  network jitter would otherwise push an occasional request over.
* **Retries** (tenacity) cover what a retry can fix: 429, 5xx, dropped or timed-out connections and
  bodies that are not the JSON they claim to be (truncated pages). A `Retry-After` header is obeyed;
  without one the wait is exponential with full jitter. Anything else (400, 401, 403, 404) fails at once.
* **Credentials** come from an Airflow connection only, through the source's hook
  (`smarketing.sources.hooks`); they travel in headers, never in a URL, and no log line, error message
  or repr contains them.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

from smarketing.errors import SmarketingError
from smarketing.privacy import mask_emails

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "smarketing-extract/1"


# -- errors -----------------------------------------------------------------------------------------
class ApiError(SmarketingError):
    """The API refused a request in a way a retry cannot fix (or retries ran out)."""

    def __init__(self, source: str, method: str, path: str, status: int | None, problem: str) -> None:
        self.source, self.method, self.path, self.status = source, method, path, status
        code = f" HTTP {status}" if status is not None else ""
        super().__init__(f"{source} {method} {path}:{code} {problem}")


class RetriesExhausted(ApiError):
    """Every attempt failed with a transient problem; `reason` names the last one."""

    def __init__(self, source: str, method: str, path: str, attempts: int, reason: str) -> None:
        self.attempts, self.reason = attempts, reason
        super().__init__(source, method, path, None, f"gave up after {attempts} attempts: {reason}")


class TransientError(Exception):
    """One attempt failed in a way that may pass: retried by the client, never seen by callers."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


# -- configuration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateLimit:
    """At most `requests` requests in any window of `per_seconds` seconds."""

    requests: int
    per_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.per_seconds

    @classmethod
    def parse(cls, value: Any) -> RateLimit:
        """`[190, 10]`, `{"requests": 190, "per_seconds": 10}` or `"190/10"`."""
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, str):
            count, _, seconds = value.partition("/")
            return cls(int(count), float(seconds or 1))
        if isinstance(value, Mapping):
            return cls(int(value["requests"]), float(value["per_seconds"]))
        count, seconds = value
        return cls(int(count), float(seconds))


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    initial_wait: float = 0.5  # first backoff without Retry-After; doubles each attempt
    max_wait: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is capped: the task retry takes over
    max_elapsed: float = 600.0  # per request, all attempts included


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 60.0


# -- rate limiting ----------------------------------------------------------------------------------
class RateLimiter:
    """Sliding-window limiter, safe to share between threads.

    `headroom` (a fraction) keeps the client a little under the limit: the window it enforces is
    `per_seconds * (1 + headroom)` long.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        headroom: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit.requests < 1 or limit.per_seconds <= 0:
            raise ValueError(f"a rate limit needs requests >= 1 and per_seconds > 0, not {limit}")
        self.limit = limit
        self.window = limit.per_seconds * (1.0 + headroom)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until a request may go; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit.requests:
                    self._sent.append(now)
                    self.waited += waited
                    return waited
                pause = self._sent[0] + self.window - now
            self._sleep(pause)
            waited += pause


# -- credentials ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiCredentials:
    """Where an API lives and how to authenticate; secrets are left out of repr()."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def secrets(self) -> list[str]:
        found = [self.token, self.password, self.extra.get("client_secret"), self.extra.get("access_token")]
        return [s for s in found if isinstance(s, str) and s]


# -- client -----------------------------------------------------------------------------------------
@dataclass
class ClientStats:
    requests: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    throttled: int = 0  # responses with status 429
    waited_for_limiter: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": sum(self.retries.values()),
            "retries_by_reason": dict(sorted(self.retries.items())),
            "throttled": self.throttled,
            "waited_for_limiter_s": round(self.waited_for_limiter, 3),
        }


Authenticator = Callable[[requests.PreparedRequest], requests.PreparedRequest]


class ApiClient:
    """A JSON API client for one source: `get_json` / `post_json` return the decoded body."""

    def __init__(
        self,
        source: str,
        credentials: ApiCredentials,
        *,
        limits: Mapping[str, RateLimit] | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        headroom: float = 0.05,
        auth: Callable[[ApiClient], Mapping[str, str]] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.source = source
        self.base_url = credentials.base_url.rstrip("/")
        self._credentials = credentials
        self.limiters = {name: RateLimiter(lim, headroom=headroom) for name, lim in (limits or {}).items()}
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.stats = ClientStats()
        self._auth = auth or bearer_auth
        self._stats_lock = threading.Lock()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"ApiClient(source={self.source!r}, base_url={self.base_url!r})"

    @property
    def credentials(self) -> ApiCredentials:
        return self._credentials

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------
    def get_json(self, path: str, *, params: Any = None, buckets: tuple[str, ...] = ("general",)) -> Any:
        return self.request_json("GET", path, params=params, buckets=buckets)

    def post_json(self, path: str, body: Any, *, buckets: tuple[str, ...] = ("general",)) -> Any:
        return self.request_json("POST", path, json_body=body, buckets=buckets)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        buckets: tuple[str, ...] = ("general",),
    ) -> Any:
        """One logical request, retried on transient failures; raises ApiError otherwise."""
        policy = self.retry
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_elapsed),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            before_sleep=lambda state: self._log_retry(method, path, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, path, params, json_body, buckets)
        except TransientError as exc:
            raise RetriesExhausted(self.source, method, path, policy.attempts, exc.reason) from None

    def _attempt(self, method: str, path: str, params: Any, json_body: Any, buckets: tuple[str, ...]) -> Any:
        for bucket in buckets:
            limiter = self.limiters.get(bucket)
            if limiter is not None:
                waited = limiter.acquire()
                if waited:
                    with self._stats_lock:
                        self.stats.waited_for_limiter += waited
        headers = dict(self._auth(self))
        with self._stats_lock:
            self.stats.requests += 1
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json_body,
                headers=headers,
                timeout=(self.timeouts.connect, self.timeouts.read),
            )
            body = response.content  # reads the whole body: a dropped connection fails here
        except requests.Timeout:
            raise TransientError("timeout") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientError(f"connection error ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            with self._stats_lock:
                self.stats.throttled += 1
        if status in TRANSIENT_STATUSES:
            raise TransientError(f"HTTP {status}", retry_after=_retry_after(response.headers))
        if status == 401 and self._on_unauthorized():
            raise TransientError("HTTP 401 (token renewed)", retry_after=0.0)
        if status >= 400:
            raise ApiError(self.source, method, path, status, _error_text(body, self.credentials.secrets))
        if not body:
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            declared = response.headers.get("Content-Length")
            what = f"{len(body)} of {declared} bytes" if declared else f"{len(body)} bytes"
            raise TransientError(f"malformed JSON body ({what})") from None

    def _on_unauthorized(self) -> bool:
        """Hook for token-based auth: forget a cached token so the next attempt gets a new one."""
        renew = getattr(self._auth, "renew", None)
        return bool(renew and renew())

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        policy = self.retry
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_retry_after)
        # Full jitter: a random wait up to the exponential ceiling, so parallel tasks spread out.
        ceiling = min(policy.max_wait, policy.initial_wait * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.reason if isinstance(exc, TransientError) else repr(exc)
        key = reason.split(" (")[0]
        with self._stats_lock:
            self.stats.retries[key] += 1
        sleep = state.next_action.sleep if state.next_action else 0.0
        hint = " (Retry-After)" if isinstance(exc, TransientError) and exc.retry_after is not None else ""
        log.warning(
            "%s %s %s: %s; retry %d/%d in %.2fs%s",
            self.source,
            method,
            path,
            reason,
            state.attempt_number,
            self.retry.attempts - 1,
            sleep,
            hint,
        )


def bearer_auth(client: ApiClient) -> Mapping[str, str]:
    token = client.credentials.token
    return {"Authorization": f"Bearer {token}"} if token else {}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _error_text(body: bytes, secrets: list[str], limit: int = 300) -> str:
    """The API's own error message, short, with any secret or e-mail address it might echo removed."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("message") or parsed.get("error_description") or parsed.get("errors")
        text = json.dumps(message) if not isinstance(message, str) and message else (message or text)
    for secret in secrets:
        text = text.replace(secret, "***")
    text = " ".join(mask_emails(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
