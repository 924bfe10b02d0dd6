"""The sandbox API server: the sandbox world behind HubSpot- and Mautic-shaped HTTP APIs.

    smarketing-sandbox serve --port 8765 --faults 429:0.05,5xx:0.02 --rate-limit hubspot.search=5/1

One `ThreadingHTTPServer` serves both tools (HubSpot under `/crm/...`, `/email/...`, `/marketing/...`
and `/form-integrations/...`, Mautic under `/api/...` and `/oauth/v2/token`); tests start it in-process
on port 0 (`SandboxServer(...).start()`).

It behaves like the real services where a client can go wrong: bearer / basic / OAuth2 auth, page-size
caps, HubSpot's 10,000-result search cap (400), a search index that lags behind writes, and rate limits
it enforces itself (429 once a bucket's sliding window is full), so a client's limiter is measurable.
Faults are switchable, each with a rate, an optional path filter and a number of requests to let
through first — `kind[:rate][@path][+skip][*count]`:

| kind | effect |
|---|---|
| `429` | a burst of `count` (default 3) 429 answers, with `Retry-After` every other burst |
| `5xx` | a 500, 502 or 503 answer |
| `slow` | the answer comes `count` × 100 ms late (default 0.5 s) |
| `drop` | the connection closes without an answer |
| `truncate` | the body stops half-way (Content-Length promises more) |
| `malformed` | a complete answer whose JSON is cut short |
| `duplicate` | a page repeats `count` (default 3) records of the previous page |
| `mutate` | `count` (default 2) records of the object being paged change before it answers |

`/_sandbox/stats`, `/_sandbox/mutate`, `/_sandbox/faults` and `/_sandbox/config` (loopback only) read
the counters, change the world, and switch faults and limits at run time; `/_sandbox/nurture` shows the
nurturing targets' members and every call that reached them (`api_nurture`; POST `{"reset": true}`).
On the nurturing write endpoints a `drop` fault drops the connection after the change is applied.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from smarketing.sources.http import RateLimit
from smarketing_sandbox import api_hubspot, api_mautic, api_nurture, api_segments
from smarketing_sandbox.api_hubspot import Answer
from smarketing_sandbox.api_world import ApiWorld

log = logging.getLogger(__name__)

FAULT_KINDS = ("429", "5xx", "slow", "drop", "truncate", "malformed", "duplicate", "mutate")
_FAULT_SPEC = re.compile(
    r"^(?P<kind>[a-z0-9]+)(?::(?P<rate>[\d.]+))?(?:@(?P<path>[^+*]+))?(?:\+(?P<skip>\d+))?(?:\*(?P<count>\d+))?$"
)
_DEFAULT_COUNTS = {"429": 3, "slow": 5, "duplicate": 3, "mutate": 2}
# Paths HubSpot serves (bearer token, HubSpot's rate-limit buckets and error shapes).
HUBSPOT_PREFIXES = ("/crm/", "/email/", "/marketing/", "/form-integrations/")
DEFAULT_HUBSPOT_TOKEN = "sandbox-hubspot-token"
DEFAULT_MAUTIC_LOGIN = "sandbox"
DEFAULT_MAUTIC_PASSWORD = "sandbox-mautic-password"


@dataclass
class Fault:
    kind: str
    rate: float = 0.1
    path: str = ""
    skip: int = 0
    count: int = 0
    seen: int = 0
    fired: int = 0

    @classmethod
    def parse(cls, spec: str) -> Fault:
        m = _FAULT_SPEC.match(spec.strip())
        if not m or m.group("kind") not in FAULT_KINDS:
            raise ValueError(
                f"bad fault '{spec}': use kind[:rate][@path][+skip][*count], kinds: {', '.join(FAULT_KINDS)}"
            )
        kind = m.group("kind")
        rate = float(m.group("rate")) if m.group("rate") else 0.1
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad fault '{spec}': rate must be within 0..1")
        count = int(m.group("count")) if m.group("count") else _DEFAULT_COUNTS.get(kind, 1)
        return cls(kind, rate, m.group("path") or "", int(m.group("skip") or 0), count)

    def describe(self) -> str:
        return (
            f"{self.kind}:{self.rate}"
            + (f"@{self.path}" if self.path else "")
            + (f"+{self.skip}" if self.skip else "")
            + f"*{self.count}"
        )


def parse_faults(specs: str | Sequence[str] | None) -> list[Fault]:
    if not specs:
        return []
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    return [Fault.parse(s) for s in items if s.strip()]


@dataclass
class ServerConfig:
    hubspot_token: str = DEFAULT_HUBSPOT_TOKEN
    mautic_login: str = DEFAULT_MAUTIC_LOGIN
    mautic_password: str = DEFAULT_MAUTIC_PASSWORD
    oauth_client_id: str = "sandbox-client"
    oauth_client_secret: str = "sandbox-client-secret"
    oauth_token_ttl_s: int = 3600
    # Buckets: hubspot.general, hubspot.search, mautic. None = unlimited.
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    indexing_delay_s: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    seed: int = 7


class _Window:
    """Server-side sliding window: counts arrivals, refuses once full."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.arrivals: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self.arrivals and self.arrivals[0] <= now - self.limit.per_seconds:
            self.arrivals.popleft()
        if len(self.arrivals) >= self.limit.requests:
            return False
        self.arrivals.append(now)
        return True


class SandboxState:
    """Everything request handlers share: the world, the configuration, counters, limits, faults."""

    def __init__(self, world: ApiWorld, config: ServerConfig) -> None:
        self.world = world
        self.config = config
        self.lock = threading.Lock()
        self.rng = random.Random(config.seed)
        self.stats: Counter[str] = Counter()
        self.windows = {name: _Window(limit) for name, limit in config.rate_limits.items()}
        self.oauth_tokens: dict[str, float] = {}
        self.burst_left = 0
        self.bursts = 0
        self.started = time.monotonic()
        self.nurture = api_nurture.NurtureBook()

    def count(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.stats[key] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            stats = dict(sorted(self.stats.items()))
            faults = [{"fault": f.describe(), "seen": f.seen, "fired": f.fired} for f in self.config.faults]
        return {
            "counters": stats,
            "faults": faults,
            "rate_limits": {k: [v.requests, v.per_seconds] for k, v in self.config.rate_limits.items()},
            "indexing_delay_s": self.config.indexing_delay_s,
            "uptime_s": round(time.monotonic() - self.started, 3),
        }

    def set_limits(self, limits: Mapping[str, RateLimit]) -> None:
        with self.lock:
            self.config.rate_limits = dict(limits)
            self.windows = {name: _Window(limit) for name, limit in limits.items()}

    def admit(self, bucket: str | None) -> bool:
        if bucket is None:
            return True
        with self.lock:
            window = self.windows.get(bucket)
            return window is None or window.admit(time.monotonic())

    def draw_faults(self, path: str) -> list[Fault]:
        """The faults that fire for this request (a 429 burst, once started, refuses what follows)."""
        fired: list[Fault] = []
        with self.lock:
            for fault in self.config.faults:
                if fault.path and fault.path not in path:
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                if fault.kind == "429" and self.burst_left > 0:
                    continue
                if self.rng.random() < fault.rate:
                    fault.fired += 1
                    fired.append(fault)
            if self.burst_left > 0:
                self.burst_left -= 1
                fired.append(Fault("429", count=0))
            elif any(f.kind == "429" for f in fired):
                burst = next(f for f in fired if f.kind == "429")
                self.burst_left = max(0, burst.count - 1)
                self.bursts += 1
        return fired


def _bucket(path: str) -> str | None:
    if path.startswith(HUBSPOT_PREFIXES):
        return "hubspot.search" if path.endswith("/search") else "hubspot.general"
    if path.startswith("/api/"):
        return "mautic"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smarketing-sandbox/1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- dispatch -------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if path.startswith("/_sandbox/"):
            self._send(self._admin(method, path, raw_body))
            return
        if path == "/oauth/v2/token" and method == "POST":
            self._send(self._token(raw_body))
            return
        state.count("requests")
        state.nurture.arrive(method, path)
        if not self._authorised(path):
            state.count("status.401")
            self._send(self._unauthorised(path))
            return
        bucket = _bucket(path)
        if not state.admit(bucket):
            state.count("status.429", "throttled", f"throttled.{bucket}")
            self._send(_rate_limited(bucket))
            return
        if bucket:
            state.count(f"admitted.{bucket}")
        faults = state.draw_faults(path)
        kinds = {f.kind for f in faults}
        for fault in faults:
            state.count(f"fault.{fault.kind}")
        if "slow" in kinds:
            time.sleep(0.1 * next(f.count for f in faults if f.kind == "slow"))
        # A nurturing change is applied before its connection drops: the client cannot tell it happened.
        applies_then_drops = api_nurture.is_write(api_nurture.endpoint(method, path.strip("/").split("/")))
        if "drop" in kinds and not applies_then_drops:
            self.close_connection = True
            self._abort()
            return
        if "429" in kinds:
            state.count("status.429")
            self._send(self._fault_429(state))
            return
        if "5xx" in kinds:
            status = state.rng.choice([500, 502, 503])
            state.count(f"status.{status}")
            self._send(
                Answer(status, {"status": "error", "message": "Internal error", "category": "INTERNAL_ERROR"})
            )
            return
        mutate = next((f for f in faults if f.kind == "mutate"), None)
        if mutate is not None:
            self._mutate_paged(path, mutate.count)
        duplicate = next((f.count for f in faults if f.kind == "duplicate"), 0)
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            self._send(
                Answer(
                    400, {"status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR"}
                )
            )
            return
        answer = self._route(method, path, params, body, duplicate)
        state.count(f"status.{answer.status}")
        if "drop" in kinds:
            self.close_connection = True
            self._abort()
            return
        if "truncate" in kinds:
            self._send(answer, cut="truncate")
        elif "malformed" in kinds:
            self._send(answer, cut="malformed")
        else:
            self._send(answer)

    def _route(self, method: str, path: str, params: dict[str, str], body: Any, duplicate: int) -> Answer:
        state = self.server.state
        world = state.world
        base = self.server.url
        segs = path.strip("/").split("/")
        nurture = api_nurture.route(state.nurture, world, method, segs, params, body)
        if nurture is not None:
            return nurture
        visible = world.now_ms() - int(state.config.indexing_delay_s * 1000)
        if (
            segs[:3] == ["crm", "v3", "objects"]
            and len(segs) == 5
            and segs[4] == "search"
            and method == "POST"
        ):
            return api_hubspot.search(
                world, segs[3], body, visible_before_ms=visible, base_url=base, duplicate=duplicate
            )
        if segs[:3] == ["crm", "v3", "objects"] and len(segs) == 4 and method == "GET":
            return api_hubspot.list_objects(world, segs[3], params, base_url=base)
        if segs[:3] == ["crm", "v3", "objects"] and segs[4:] == ["batch", "read"] and method == "POST":
            return api_hubspot.batch_read(world, segs[3], body)
        if segs[:3] == ["crm", "v3", "objects"] and segs[4:] == ["batch", "update"] and method == "POST":
            # Score write-back: counted as it arrives (the tests compare it with what was sent).
            inputs = body.get("inputs") if isinstance(body, dict) else None
            state.count("writeback.batches", *["writeback.records"] * len(inputs or []))
            return api_hubspot.batch_update(world, inputs)
        if segs == ["email", "public", "v1", "events"] and method == "GET":
            return api_hubspot.email_events(world, params)
        if segs == ["marketing", "v3", "forms"] and method == "GET":
            return api_hubspot.forms(params, base_url=base)
        if (
            segs[:4] == ["form-integrations", "v1", "submissions", "forms"]
            and len(segs) == 5
            and method == "GET"
        ):
            return api_hubspot.form_submissions(world, segs[4], params, base_url=base, duplicate=duplicate)
        if segs[:3] == ["crm", "v3", "owners"] and method == "GET":
            return api_hubspot.owners(world, params, base_url=base)
        if segs[:3] == ["crm", "v4", "associations"] and len(segs) == 7 and segs[5:] == ["batch", "read"]:
            return api_hubspot.associations(world, segs[3], segs[4], body)
        if segs == ["crm", "v3", "objects", "contacts", "gdpr-delete"] and method == "POST":
            return api_hubspot.gdpr_delete(world, body)
        if segs[:2] == ["api", "contacts"] and len(segs) == 4 and segs[3] == "delete" and method == "DELETE":
            return api_mautic.delete_contact(world, segs[2])
        if segs == ["api", "contacts"] and method == "GET":
            return api_mautic.contacts(world, params, duplicate=duplicate)
        if segs == ["api", "contacts", "activity"] and method == "GET":
            return api_mautic.activity(world, params, duplicate=duplicate)
        if segs == ["api", "segments"] and method == "GET":
            return api_mautic.segments(params)
        if path.startswith(HUBSPOT_PREFIXES):
            return api_hubspot.error(404, f"No route for {method} {path}", "OBJECT_NOT_FOUND")
        return api_mautic.error(404, f"No route for {method} {path}")

    # -- auth -----------------------------------------------------------------------------------
    def _authorised(self, path: str) -> bool:
        config = self.server.state.config
        header = self.headers.get("Authorization", "")
        if path.startswith(HUBSPOT_PREFIXES):
            return secrets.compare_digest(header, f"Bearer {config.hubspot_token}")
        if header.startswith("Basic "):
            expected = base64.b64encode(f"{config.mautic_login}:{config.mautic_password}".encode()).decode()
            return secrets.compare_digest(header[6:], expected)
        if header.startswith("Bearer "):
            expires = self.server.state.oauth_tokens.get(header[7:])
            return expires is not None and expires > time.time()
        return False

    def _unauthorised(self, path: str) -> Answer:
        if path.startswith(HUBSPOT_PREFIXES):
            return Answer(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        return api_mautic.error(401, "API authorization denied.")

    def _token(self, raw_body: bytes) -> Answer:
        config = self.server.state.config
        form = dict(parse_qsl(raw_body.decode("utf-8", errors="replace")))
        if form.get("grant_type") != "client_credentials":
            return Answer(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != config.oauth_client_id or not secrets.compare_digest(
            form.get("client_secret", ""), config.oauth_client_secret
        ):
            return Answer(
                401, {"error": "invalid_client", "error_description": "The client credentials are invalid"}
            )
        token = secrets.token_urlsafe(24)
        self.server.state.oauth_tokens[token] = time.time() + config.oauth_token_ttl_s
        self.server.state.count("oauth.tokens")
        return Answer(
            200,
            {
                "access_token": token,
                "expires_in": config.oauth_token_ttl_s,
                "token_type": "bearer",
                "scope": None,
            },
        )

    # -- faults ---------------------------------------------------------------------------------
    def _fault_429(self, state: SandboxState) -> Answer:
        # Every other burst says when to come back; the others leave the client to back off alone.
        headers = {"Retry-After": "1"} if state.bursts % 2 == 1 else {}
        return Answer(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "SECONDLY",
            },
            headers,
        )

    def _mutate_paged(self, path: str, count: int) -> None:
        world = self.server.state.world
        segs = path.strip("/").split("/")
        key = None
        if segs[:3] == ["crm", "v3", "objects"] and len(segs) >= 4:
            name = api_hubspot.object_name(segs[3])
            key = f"hubspot.{name}" if name else None
        elif segs[:2] == ["api", "contacts"] and len(segs) == 2:
            key = "mautic.contacts"
        elif segs[:1] == ["form-integrations"]:
            # Submissions are never modified: new ones arrive while the client pages.
            world.add_activity(count, kinds=("form.submitted",))
        if key is not None:
            world.touch(key, count)

    def _abort(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- admin ----------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, raw_body: bytes) -> Answer:
        state = self.server.state
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            return Answer(400, {"error": "invalid JSON"})
        if path == "/_sandbox/stats":
            return Answer(200, state.snapshot())
        if path == "/_sandbox/nurture":
            return state.nurture.admin(method, body)
        if method != "POST":
            return Answer(405, {"error": "POST only"})
        if path == "/_sandbox/mutate":
            logged = {k: int(body.pop(k)) for k in ("segment_adds", "segment_removes", "points") if k in body}
            counts = state.world.mutate(**{k: int(v) for k, v in body.items()})
            return Answer(200, {**counts.__dict__, **api_segments.mutate(state.world, **logged)})
        if path == "/_sandbox/faults":
            try:
                state.config.faults = parse_faults(body.get("faults") or [])
            except ValueError as exc:
                return Answer(400, {"error": str(exc)})
            return Answer(200, {"faults": [f.describe() for f in state.config.faults]})
        if path == "/_sandbox/config":
            if "indexing_delay_s" in body:
                state.config.indexing_delay_s = float(body["indexing_delay_s"])
            if "rate_limits" in body:
                state.set_limits({k: RateLimit.parse(v) for k, v in body["rate_limits"].items() if v})
            return Answer(200, state.snapshot())
        if path == "/_sandbox/reset":
            with state.lock:
                state.stats.clear()
            return Answer(200, state.snapshot())
        return Answer(404, {"error": f"no admin route {path}"})

    # -- output ---------------------------------------------------------------------------------
    def _send(self, answer: Answer, *, cut: str | None = None) -> None:
        # 204 No Content has no body at all (HubSpot's answer to a GDPR delete)
        data = b"" if answer.status == 204 else json.dumps(answer.body, separators=(",", ":")).encode()
        promised = len(data)
        if cut == "malformed":
            data = data[: max(1, len(data) // 2)]
            promised = len(data)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(promised))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if cut == "truncate":
                self.send_header("Connection", "close")
            self.end_headers()
            if cut == "truncate":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self._abort()
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _rate_limited(bucket: str | None) -> Answer:
    if bucket and bucket.startswith("hubspot"):
        policy = "SECONDLY" if bucket.endswith("search") else "TEN_SECONDLY_ROLLING"
        return Answer(
            429,
            {
                "status": "error",
                "message": f"You have reached your {policy.lower()} limit.",
                "errorType": "RATE_LIMIT",
                "policyName": policy,
            },
        )
    return api_mautic.error(429, "API rate limit exceeded")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class SandboxServer:
    """A running sandbox API server (in a background thread); use as a context manager."""

    def __init__(
        self, world: ApiWorld, config: ServerConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.state = SandboxState(world, config or ServerConfig())
        self._server = _Server((host, port), self.state)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def world(self) -> ApiWorld:
        return self.state.world

    @property
    def config(self) -> ServerConfig:
        return self.state.config

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def hubspot_connection(self) -> str:
        """`AIRFLOW_CONN_SMARKETING_HUBSPOT` value for this server."""
        return json.dumps({"conn_type": "hubspot", "host": self.url, "password": self.config.hubspot_token})

    def mautic_connection(self, *, oauth: bool = False) -> str:
        """`AIRFLOW_CONN_SMARKETING_MAUTIC` value for this server (basic auth, or OAuth2 client credentials)."""
        if oauth:
            extra = {
                "auth": "oauth2",
                "client_id": self.config.oauth_client_id,
                "client_secret": self.config.oauth_client_secret,
            }
            return json.dumps({"conn_type": "mautic", "host": self.url, "extra": extra})
        return json.dumps(
            {
                "conn_type": "mautic",
                "host": self.url,
                "login": self.config.mautic_login,
                "password": self.config.mautic_password,
            }
        )

    def stats(self) -> dict[str, Any]:
        return self.state.snapshot()


def load_world(
    world_dir: Path | None, *, contacts: int, days: int, seed: int, end: Any, clock: Any = time.time
) -> ApiWorld:
    """The world to serve: an existing generated world, or a fresh one generated now."""
    from smarketing_sandbox.world import generate_world

    # a served world has the deleted and merged contacts of any real CRM
    if world_dir is not None and (world_dir / "world.json").exists():
        return ApiWorld.load(world_dir, clock=clock, seed=seed, housekeeping=True)
    if world_dir is None:
        import tempfile

        world_dir = Path(tempfile.mkdtemp(prefix="smarketing-sandbox-"))
    generate_world(world_dir, contacts=contacts, seed=seed, days=days, end=end)
    return ApiWorld.load(world_dir, clock=clock, seed=seed, housekeeping=True)
