"""The HTTP foundation: rate limiter arithmetic, retry decisions, credential hygiene.

Retry behaviour is exercised against a real scripted HTTP server on a loopback port: each test says
which answers the server gives, in order, and checks what the client made of them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smarketing.sources.http import (
    ApiClient,
    ApiCredentials,
    ApiError,
    RateLimit,
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    _error_text,
    _retry_after,
)

TOKEN = "pat-na1-unit-SECRET-7f3a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# -- rate limiter ---------------------------------------------------------------------------------
def test_limiter_lets_a_full_window_through_then_waits_for_the_oldest_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(5, 1.0), headroom=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert limiter.acquire() == 0.0
    waited = limiter.acquire()
    assert waited == pytest.approx(1.0)
    assert clock.slept == [pytest.approx(1.0)]


def test_limiter_never_exceeds_the_limit_in_any_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(19, 10.0), headroom=0.05, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(200):
        limiter.acquire()
        sent.append(clock.now)
        clock.now += 0.01  # the request itself takes a little time
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + 10.0]
        assert len(in_window) <= 19
    # Sustained rate: close to the limit, a little under it (the headroom).
    rate = (len(sent) - 1) / (sent[-1] - sent[0])
    assert 0.9 * 1.9 <= rate <= 1.9


def test_rate_limit_spellings() -> None:
    assert RateLimit.parse("190/10") == RateLimit(190, 10.0)
    assert RateLimit.parse([5, 1]) == RateLimit(5, 1.0)
    assert RateLimit.parse({"requests": 100, "per_seconds": 10}) == RateLimit(100, 10.0)
    with pytest.raises(ValueError):
        RateLimiter(RateLimit(0, 1.0))


def test_retry_after_seconds_and_http_dates() -> None:
    assert _retry_after({"Retry-After": "3"}) == 3.0
    assert _retry_after({}) is None
    assert _retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert _retry_after({"Retry-After": "soon"}) is None


def test_error_text_is_short_and_never_echoes_a_secret() -> None:
    body = json.dumps({"message": f"bad token {TOKEN} for this portal", "category": "INVALID_AUTHENTICATION"})
    text = _error_text(body.encode(), [TOKEN])
    assert TOKEN not in text and "***" in text
    assert len(_error_text(b"x" * 5000, [])) <= 300


def test_error_text_never_echoes_an_email_address() -> None:
    body = json.dumps({"message": 'Contact with email "lea.roux+demo@acme.example" already exists'})
    text = _error_text(body.encode(), [])
    assert "lea.roux" not in text and "***@acme.example" in text


def test_credentials_repr_hides_secrets() -> None:
    creds = ApiCredentials(
        base_url="http://h", token=TOKEN, login="u", password="pw-SECRET", extra={"client_secret": "cs"}
    )
    assert TOKEN not in repr(creds) and "pw-SECRET" not in repr(creds) and "cs" not in repr(creds)
    assert set(creds.secrets) == {TOKEN, "pw-SECRET", "cs"}


def test_credentials_from_an_airflow_connection_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarketing.sources.hubspot.hook import HubSpotHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SMK_UNIT_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": "http://127.0.0.1:9",
                "password": TOKEN,
                "extra": {"rate_limits": {"search": [4, 1]}},
            }
        ),
    )
    creds = HubSpotHook("smk_unit_api").get_credentials()
    assert creds.base_url == "http://127.0.0.1:9" and creds.token == TOKEN
    assert creds.extra["rate_limits"] == {"search": [4, 1]}


def test_a_missing_connection_is_named_without_details(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarketing.errors import SmarketingError
    from smarketing.sources.mautic.hook import MauticHook

    monkeypatch.delenv("AIRFLOW_CONN_SMK_NOT_THERE", raising=False)
    with pytest.raises(SmarketingError, match="smk_not_there"):
        MauticHook("smk_not_there").get_credentials()


# -- retries against a scripted server ------------------------------------------------------------
class Script:
    """Answers to give, in order: (status, headers, body bytes) or "drop"."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes] | str] = []
        self.seen: list[dict[str, str]] = []


@pytest.fixture()
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            script.seen.append(dict(self.headers))
            answer = script.answers.pop(0) if script.answers else (200, {}, b"{}")
            if answer == "drop":
                self.close_connection = True
                return
            status, headers, body = answer
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def _client(url: str, attempts: int = 4) -> ApiClient:
    return ApiClient(
        "unit",
        ApiCredentials(base_url=url, token=TOKEN),
        retry=RetryPolicy(attempts=attempts, initial_wait=0.001, max_wait=0.01),
    )


def test_transient_answers_are_retried_until_one_succeeds(scripted, caplog: pytest.LogCaptureFixture) -> None:
    url, script = scripted
    script.answers = [
        (429, {"Retry-After": "0"}, b'{"message": "slow down"}'),
        (503, {}, b"upstream"),
        (200, {}, b'{"results": [1, 2'),  # truncated JSON
        "drop",
        (200, {}, b'{"results": [1, 2]}'),
    ]
    caplog.set_level(logging.WARNING, logger="smarketing.sources.http")
    client = _client(url, attempts=6)
    assert client.get_json("/x") == {"results": [1, 2]}
    stats = client.stats.as_dict()
    assert stats["requests"] == 5 and stats["retries"] == 4 and stats["throttled"] == 1
    assert set(stats["retries_by_reason"]) == {
        "HTTP 429",
        "HTTP 503",
        "malformed JSON body",
        "connection error",
    }
    assert "retry 1/5" in caplog.text and "(Retry-After)" in caplog.text
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in script.seen)
    assert TOKEN not in caplog.text


def test_retries_run_out_with_the_last_reason(scripted) -> None:
    url, script = scripted
    script.answers = [(502, {}, b"")] * 3
    with pytest.raises(RetriesExhausted, match="gave up after 3 attempts: HTTP 502"):
        _client(url, attempts=3).get_json("/x")


def test_client_errors_fail_at_once_with_the_api_message(scripted) -> None:
    url, script = scripted
    script.answers = [
        (400, {}, json.dumps({"message": "Paging past 10000 results is not supported"}).encode())
    ]
    client = _client(url)
    with pytest.raises(ApiError, match="HTTP 400 Paging past 10000") as err:
        client.get_json("/crm/v3/objects/contacts/search")
    assert not isinstance(err.value, RetriesExhausted)
    assert client.stats.requests == 1
