"""Mautic connector: contacts, their activity and their segment memberships, landed as canonical
records (docs/sources.md, docs/extract.md).

| object | raw | how |
|---|---|---|
| contacts | leads | keyset pull on `date_modified` (`where[]` gte/lte, `orderBy=date_modified`), by id inside one second; contacts never modified (`date_modified` empty) by `date_added` |
| activity | marketing_events | `GET /api/contacts/activity` over a window `[watermark - overlap, now - lag]`, paged by `page`; events never change, so offsets inside a fixed window are stable, and a killed run resumes at the next page. Point changes (`point.gained`) become `points_changed` with the signed change under `attributes.delta` |
| segments | segment_memberships | the same windowed timeline pull, of `segment_membership` entries only (one per contact added to or removed from a segment, from Mautic's lead_event_log), plus one `GET /api/segments` per run to resolve the segment named by each entry to its id and alias; on the first run and then every `reconcile_hours` (a week), every segment's members are listed and the differences with raw land as changes of their own |

Segments are read from the timeline, not listed per segment or per contact each run: `search=segment:<alias>`
re-reads every member of every segment, and `GET /api/contacts/{id}/segments` costs one request per
contact (200k at 200k contacts); the timeline costs one page per `page_limit` changes since the last
run. The listing only runs now and then, for what the log never shows. A timeline entry says added or
removed only in its label (`removed_label`, English by default).

Points, tags, stage, last activity and every other contact field are kept under `attributes` (the
tool's stage is a coarser copy of the CRM's lifecycle, see config/sources/sandbox_ma.yaml). Auth is
basic (connection login / password) or OAuth2 client credentials (`extra.auth = "oauth2"`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import requests

from smarketing.sources.http import ApiClient, ApiCredentials, ApiError, RateLimit, RetryPolicy, Timeouts
from smarketing.sources.sync import (
    FieldKind,
    Page,
    Window,
    WindowPage,
    boolean_text,
    canonical_table,
    land_page,
    pull_keyset,
    pull_windowed,
    read_state,
    strings,
    timestamps_ms,
)

log = logging.getLogger(__name__)

CONN_ID = "smarketing_mautic"
SOURCE_SYSTEM = "mautic"
MAX_LIMIT = 200
OBJECTS = {"contacts": "leads", "activity": "marketing_events", "segments": "segment_memberships"}
# Segments cost one request for the segment list plus the pages of membership changes since the last run.
DEFAULT_OBJECTS = ("contacts", "activity", "segments")
EVENT_TYPES = {
    "email.sent": "email_sent",
    "email.read": "email_open",
    "email.clicked": "email_click",
    "email.bounced": "bounce",
    "email.failed": "bounce",
    "page.hit": "page_view",
    "form.submitted": "form_submission",
    "asset.download": "content_download",
    "webinar.registered": "webinar_registered",
    "webinar.attended": "webinar_attended",
    "dnc.unsubscribed": "unsubscribe",
    "lead.donotcontact": "unsubscribe",
    "demo.requested": "demo_request",
    # A score movement, with its signed change under attributes.delta; no engagement rule counts it.
    "point.gained": "points_changed",
}
DEFAULT_INCLUDE_EVENTS = tuple(EVENT_TYPES)
# The timeline's segment membership changes: read by the `segments` object, not by `activity`.
SEGMENT_EVENT = "segment_membership"
# Mautic's timeline gives a membership change's direction only in its (translated) label; a label
# matching this pattern is a removal, any other an addition. Override it for a non-English instance.
REMOVED_LABEL = r"(?i)\bremov"
# How often the segments object also lists every segment's members to catch what the log never showed
# (memberships older than the log, a deleted contact or segment); 0 turns it off.
RECONCILE_HOURS = 168.0
# The marketing tool spells countries out; core keeps ISO 3166-1 alpha-2 codes like the CRM.
COUNTRY_CODES = {
    "Belgium": "BE",
    "France": "FR",
    "Germany": "DE",
    "Italy": "IT",
    "Netherlands": "NL",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "United Kingdom": "GB",
    "United States": "US",
}


@dataclass(frozen=True)
class MauticSettings:
    source_system: str = SOURCE_SYSTEM
    conn_id: str = CONN_ID
    objects: tuple[str, ...] = DEFAULT_OBJECTS
    page_limit: int = MAX_LIMIT
    lag_s: float = 60.0
    overlap_s: float = 600.0
    event_types: Mapping[str, str] = field(default_factory=lambda: dict(EVENT_TYPES))
    include_events: tuple[str, ...] = DEFAULT_INCLUDE_EVENTS
    pricing_url: str = "/pricing"
    removed_label: str = REMOVED_LABEL
    reconcile_hours: float = RECONCILE_HOURS
    country_codes: Mapping[str, str] = field(default_factory=lambda: dict(COUNTRY_CODES))
    limits: Mapping[str, RateLimit] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> MauticSettings:
        merged = {**(extra or {}), **entry}
        objects = tuple(merged.get("objects") or DEFAULT_OBJECTS)
        unknown = [o for o in objects if o not in OBJECTS]
        if unknown:
            raise ValueError(f"mautic: unknown object(s) {unknown} (objects: {', '.join(OBJECTS)})")
        page_limit = int(merged.get("page_limit", MAX_LIMIT))
        if not 1 <= page_limit <= MAX_LIMIT:
            raise ValueError(f"mautic: page_limit must be 1..{MAX_LIMIT}, not {page_limit}")
        return cls(
            source_system=str(merged.get("source_system", SOURCE_SYSTEM)),
            conn_id=str(merged.get("conn_id", CONN_ID)),
            objects=objects,
            page_limit=page_limit,
            lag_s=float(merged.get("lag_seconds", 60.0)),
            overlap_s=float(merged.get("overlap_seconds", 600.0)),
            event_types={**EVENT_TYPES, **(merged.get("event_types") or {})},
            include_events=tuple(merged.get("include_events") or DEFAULT_INCLUDE_EVENTS),
            removed_label=str(merged.get("segment_removed_label") or REMOVED_LABEL),
            reconcile_hours=float(merged.get("segment_reconcile_hours", RECONCILE_HOURS)),
            country_codes={**COUNTRY_CODES, **(merged.get("country_codes") or {})},
            limits={k: RateLimit.parse(v) for k, v in (merged.get("rate_limits") or {}).items()},
            retry=RetryPolicy(**merged["retry"]) if merged.get("retry") else RetryPolicy(),
        )


# -- auth -----------------------------------------------------------------------------------------
class BasicAuth:
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


def client_for(credentials: ApiCredentials, settings: MauticSettings) -> ApiClient:
    extra = credentials.extra or {}
    if extra.get("auth") == "oauth2":
        auth: Any = OAuth2ClientCredentials(
            str(extra.get("token_url") or credentials.base_url.rstrip("/") + "/oauth/v2/token"),
            str(extra["client_id"]),
            str(extra["client_secret"]),
        )
    elif credentials.login and credentials.password:
        auth = BasicAuth(credentials.login, credentials.password)
    else:
        raise ValueError(
            "the Mautic connection needs login and password, or extra.auth = oauth2 with client_id/client_secret"
        )
    return ApiClient(
        settings.source_system,
        credentials,
        limits=settings.limits,
        retry=settings.retry,
        timeouts=settings.timeouts,
        auth=auth,
    )


# -- fetching -------------------------------------------------------------------------------------
def mautic_time(ms: int) -> str:
    """Mautic's API filters take UTC `Y-m-d H:i:s` (second resolution)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _entities(data: Any, key: str) -> list[dict[str, Any]]:
    listed = data.get(key) if isinstance(data, dict) else None
    if isinstance(listed, dict):  # keyed by id (PHP associative array), in the server's order
        return list(listed.values())
    if isinstance(listed, list):  # an empty result is `[]`
        return listed
    raise ValueError(f"the answer has no '{key}' list")


class ContactsFetcher:
    """Keyset pages of `GET /api/contacts` on one date column."""

    path = "/api/contacts"
    resolution_ms = 1000  # Mautic keeps times to the second

    def __init__(
        self, client: ApiClient, *, column: str = "date_modified", unmodified_only: bool = False
    ) -> None:
        self.client, self.column = client, column
        self.extra = [{"col": "date_modified", "expr": "isNull"}] if unmodified_only else []
        self.field = "dateModified" if column == "date_modified" else "dateAdded"

    def _params(self, where: list[dict[str, str]], order_by: str, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"start": 0, "limit": limit, "orderBy": order_by, "orderByDir": "asc"}
        for i, cond in enumerate([*where, *self.extra]):
            for part, value in cond.items():
                params[f"where[{i}][{part}]"] = value
        return params

    def since(self, lo_ms: int, hi_ms: int, limit: int) -> Page:
        where = [
            {"col": self.column, "expr": "gte", "val": mautic_time(lo_ms)},
            {"col": self.column, "expr": "lte", "val": mautic_time(hi_ms)},
        ]
        return self._page(
            self._params(where, self.column, limit),
            f"{self.column} {mautic_time(lo_ms)}..{mautic_time(hi_ms)}",
        )

    def at(self, at_ms: int, after_id: int, limit: int) -> Page:
        where = [
            {"col": self.column, "expr": "eq", "val": mautic_time(at_ms)},
            {"col": "id", "expr": "gt", "val": str(after_id)},
        ]
        return self._page(
            self._params(where, "id", limit), f"{self.column} = {mautic_time(at_ms)}, id > {after_id}"
        )

    def _page(self, params: dict[str, Any], where: str) -> Page:
        data = self.client.get_json(self.path, params=params)
        entities = _entities(data, "contacts")
        ids = np.array([int(e["id"]) for e in entities], dtype=np.int64)
        stamps = timestamps_ms(strings([e.get(self.field) or e.get("dateAdded") for e in entities]))
        if stamps.null_count:
            raise ValueError(f"{stamps.null_count} contact(s) without a readable {self.field}")
        page = Page(records=entities, ids=ids, modified=stamps.to_numpy(), origin=f"GET {self.path} {where}")
        total = data.get("total") if isinstance(data, dict) else None
        if total is not None:
            page.more = int(total) > len({int(i) for i in ids.tolist()})
        return page


# -- canonical records ----------------------------------------------------------------------------
def _codes(values: pa.Array, table: Mapping[str, str]) -> pa.Array:
    position = pc.index_in(values, value_set=pa.array(list(table), pa.string()))
    return pc.coalesce(pc.take(pa.array(list(table.values()), pa.string()), position), values)


def contacts_table(page: Page, settings: MauticSettings) -> dict[str, pa.Table]:
    entities = page.records
    fields_all = [((e.get("fields") or {}).get("all") or {}) for e in entities]
    try:
        table = pa.Table.from_pylist(fields_all)
        cols = {n: table.column(n).combine_chunks().cast(pa.string()) for n in table.column_names}
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        names = dict.fromkeys(k for f in fields_all for k in f)
        cols = {n: strings([f.get(n) for f in fields_all]) for n in names}
    cols = {k: pc.if_else(pc.equal(v, ""), pa.scalar(None, pa.string()), v) for k, v in cols.items()}
    n = len(entities)

    def col(name: str) -> pa.Array:
        return cols.get(name, pa.nulls(n, pa.string()))

    dnc = strings(
        [any((d or {}).get("channel") == "email" for d in e.get("doNotContact") or []) for e in entities]
    )
    modified = pa.array(page.modified, pa.int64())
    attributes = {k: v for k, v in cols.items() if k not in {"id", "email", "position", "country"}}
    attributes["points"] = strings([e.get("points") for e in entities])
    attributes["stage"] = strings([(e.get("stage") or {}).get("name") for e in entities])
    attributes["tags"] = strings([",".join(t.get("tag", "") for t in e.get("tags") or []) for e in entities])
    attributes["last_active"] = strings([e.get("lastActive") for e in entities])
    leads = canonical_table(
        source_id=pa.array([str(i) for i in page.ids.tolist()], pa.string()),
        updated_ms=modified,
        fields={
            "email": ("text", col("email")),
            "job_title": ("text", col("position")),
            "country": ("text", _codes(col("country"), settings.country_codes)),
            "created_at": ("timestamp", strings([e.get("dateAdded") for e in entities])),
            "updated_at": ("timestamp", modified),
            # A do-not-contact entry on the e-mail channel means no consent.
            "consent_email": ("boolean", boolean_text(dnc, invert=True)),
        },
        attributes=attributes,
    )
    return {"leads": leads}


def _event_id(event: Mapping[str, Any]) -> str:
    if event.get("eventId"):
        return str(event["eventId"])
    # Some event types (page hits, point changes) come without an id: derive a stable one.
    basis = json.dumps(
        [event.get("event"), event.get("contactId"), event.get("timestamp"), event.get("details")],
        sort_keys=True,
    )
    return f"{event.get('event')}:{hashlib.sha1(basis.encode()).hexdigest()[:20]}"


def _details(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # The all-contacts activity API gives an entry's extra data as `details`; the timeline calls it `extra`.
    return [e.get("details") or e.get("extra") or {} for e in events]


def events_table(events: Sequence[Mapping[str, Any]], settings: MauticSettings) -> pa.Table:
    details = _details(events)
    kinds = strings([e.get("event") for e in events])
    urls = strings([(d.get("hit") or {}).get("url") or d.get("url") for d in details])
    campaign = strings([d.get("campaignId") or (d.get("stat") or {}).get("emailId") for d in details])
    mapped = pc.coalesce(_lookup(kinds, settings.event_types), kinds)
    pricing = pc.and_(
        pc.equal(kinds, "page.hit"), pc.fill_null(pc.match_substring(urls, settings.pricing_url), False)
    )
    event_type = pc.if_else(pricing, "pricing_page_view", mapped)
    return _timeline_table(
        events,
        fields={
            "event_type": ("text", event_type),
            "occurred_at": ("timestamp", strings([e.get("timestamp") for e in events])),
            "campaign_id": ("text", campaign),
            "content_topic": ("text", strings([d.get("topic") for d in details])),
        },
        attributes={
            "url": urls,
            # Point changes carry their points change log row; other events have no delta.
            "delta": strings([(d.get("log") or {}).get("delta") for d in details]),
        },
    )


def _timeline_table(
    events: Sequence[Mapping[str, Any]],
    *,
    fields: Mapping[str, tuple[FieldKind, pa.Array]],
    attributes: Mapping[str, pa.Array],
) -> pa.Table:
    """Landing rows of timeline entries: the entry's id and contact; no modified time (entries never change)."""
    return canonical_table(
        source_id=strings([_event_id(e) for e in events]),
        updated_ms=None,
        fields={"lead_source_id": ("text", strings([e.get("contactId") for e in events])), **fields},
        attributes={
            "event": strings([e.get("event") for e in events]),
            "label": strings([_label(e.get("eventLabel")) for e in events]),
            **attributes,
        },
    )


def memberships_table(
    events: Sequence[Mapping[str, Any]], segments: pa.Table, settings: MauticSettings
) -> pa.Table:
    """`segment_membership` timeline entries → raw.segment_memberships rows, one per change.

    Mautic's entry names the segment (`object_description`) but not its id, and says added or removed
    only in its label: the id and alias come from the segment list by name, the direction from the
    label (`removed_label`), unless the entry carries `object_id` / `action` itself.
    """
    details = _details(events)
    names = strings([d.get("object_description") for d in details])
    removed = pc.match_substring_regex(
        strings([_label(e.get("eventLabel")) for e in events]), settings.removed_label
    )
    action = pc.coalesce(
        strings([d.get("action") for d in details]),
        pc.if_else(removed, pa.scalar("removed"), pa.scalar("added")),
    )
    position = pc.index_in(names, value_set=segments.column("name").combine_chunks())
    segment_id = pc.coalesce(
        strings([d.get("object_id") for d in details]),
        pc.take(segments.column("id").combine_chunks(), position),
    )
    return _timeline_table(
        events,
        fields={
            "segment_id": ("text", segment_id),
            "segment_name": ("text", names),
            "segment_alias": ("text", pc.take(segments.column("alias").combine_chunks(), position)),
            "is_member": ("boolean", boolean_text(action, true=("added",))),
            "changed_at": ("timestamp", strings([e.get("timestamp") for e in events])),
        },
        attributes={"action": action},
    )


def fetch_segments(client: ApiClient, limit: int) -> pa.Table:
    """Every segment (`GET /api/segments`, paged by `start`): id, name and alias as text."""
    listed: list[dict[str, Any]] = []
    while True:
        data = client.get_json("/api/segments", params={"start": len(listed), "limit": limit})
        page = _entities(data, "lists")
        listed += page
        total = int(data.get("total") or 0) if isinstance(data, dict) else 0
        if not page or len(listed) >= total:
            break
    return pa.table(
        {
            "id": strings([s.get("id") for s in listed]),
            "name": strings([s.get("name") for s in listed]),
            "alias": strings([s.get("alias") for s in listed]),
        }
    )


def _lookup(values: pa.Array, table: Mapping[str, str]) -> pa.Array:
    position = pc.index_in(values, value_set=pa.array(list(table), pa.string()))
    return pc.take(pa.array(list(table.values()), pa.string()), position)


def _label(label: Any) -> str | None:
    if isinstance(label, dict):
        return label.get("label")
    return label


# -- object pulls ---------------------------------------------------------------------------------
def extract_object(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    name: str,
    *,
    now_ms: int,
    since_ms: int | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    window = Window(
        now_ms=now_ms,
        lag_ms=int(settings.lag_s * 1000),
        overlap_ms=int(settings.overlap_s * 1000),
        since_ms=since_ms,
    )
    if name == "activity":
        return _pull_timeline(
            conn,
            client,
            settings,
            window,
            key="activity",
            include=settings.include_events,
            convert=lambda events: {"marketing_events": events_table(events, settings)},
            run_id=run_id,
        )
    if name == "segments":
        # Read once per run: a segment renamed since a change was logged no longer resolves by name.
        segments = fetch_segments(client, settings.page_limit)
        result = _pull_timeline(
            conn,
            client,
            settings,
            window,
            key="segments",
            include=(SEGMENT_EVENT,),
            convert=lambda events: {"segment_memberships": memberships_table(events, segments, settings)},
            run_id=run_id,
        )
        # After the timeline, so that raw already holds every logged change up to now.
        result["reconciled"] = reconcile_segments(
            conn, client, settings, segments, now_ms=now_ms, force=since_ms is not None, run_id=run_id
        )
        return result

    def convert(page: Page) -> dict[str, pa.Table]:
        return contacts_table(page, settings)

    common = {
        "source_system": settings.source_system,
        "window": window,
        "page_limit": settings.page_limit,
        "run_id": run_id,
    }
    result = pull_keyset(conn, ContactsFetcher(client), convert, key="contacts", **common).as_dict()
    result["never_modified"] = pull_keyset(
        conn,
        ContactsFetcher(client, column="date_added", unmodified_only=True),
        convert,
        key="contacts.unmodified",
        **common,
    ).as_dict()
    return result


TimelineConverter = Callable[[list[dict[str, Any]]], dict[str, pa.Table]]


def _pull_timeline(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    window: Window,
    *,
    key: str,
    include: Sequence[str],
    convert: TimelineConverter,
    run_id: str | None,
) -> dict[str, Any]:
    """Windowed pull of some event types of `GET /api/contacts/activity` (their state is `key`)."""
    path = "/api/contacts/activity"

    def fetch(lo: int, hi: int, page_no: int) -> WindowPage:
        params: dict[str, Any] = {
            "filters[dateFrom]": mautic_time(lo),
            "filters[dateTo]": mautic_time(hi),
            "order[0]": "timestamp",
            "order[1]": "ASC",
            "page": page_no,
            "limit": settings.page_limit,
        }
        for i, kind in enumerate(include):
            params[f"filters[includeEvents][{i}]"] = kind
        data = client.get_json(path, params=params)
        events = _entities(data, "events")
        # The server's own page count: it may cap `limit` below what was asked.
        max_pages = data.get("maxPages")
        last = not events or (page_no >= int(max_pages) if max_pages else len(events) < settings.page_limit)
        return WindowPage(
            tables=convert(events) if events else {},
            received=len(events),
            next_position=None if last else page_no + 1,
            origin=f"GET {path} {mautic_time(lo)}..{mautic_time(hi)} page {page_no}",
        )

    stats = pull_windowed(
        conn,
        fetch,
        source_system=settings.source_system,
        key=key,
        window=window,
        first_position=1,
        run_id=run_id,
    )
    return stats.as_dict()


# -- reconciliation -------------------------------------------------------------------------------
RECONCILE_KEY = "segments.reconcile"


def segment_members(client: ApiClient, alias: str, limit: int) -> list[int]:
    """Contact ids of one segment: `search=segment:<alias>`, keyset by id (offsets skip under changes)."""
    members: list[int] = []
    while True:
        params = {
            "search": f"segment:{alias}",
            "minimal": "true",
            "start": 0,
            "limit": limit,
            "orderBy": "id",
            "orderByDir": "asc",
            "where[0][col]": "id",
            "where[0][expr]": "gt",
            "where[0][val]": str(members[-1] if members else 0),
        }
        data = client.get_json("/api/contacts", params=params)
        page = [int(e["id"]) for e in _entities(data, "contacts")]
        members += sorted(set(page))
        total = int(data.get("total") or 0) if isinstance(data, dict) else 0
        if not page or total <= len(page):
            return members


def landed_members(conn: psycopg.Connection, source_system: str) -> pd.DataFrame:
    """Who raw says is in which segment now: the latest landed change of each membership."""
    rows = conn.execute(
        """
        SELECT contact, segment_id, segment_name FROM (
            SELECT DISTINCT ON (payload->>'lead_source_id', payload->>'segment_id')
                   payload->>'lead_source_id' AS contact, payload->>'segment_id' AS segment_id,
                   payload->>'segment_name' AS segment_name, (payload->>'is_member')::boolean AS is_member
            FROM raw.segment_memberships
            WHERE source_system = %s AND payload->>'segment_id' IS NOT NULL AND payload->>'is_member' IS NOT NULL
            ORDER BY payload->>'lead_source_id', payload->>'segment_id',
                     (payload->>'changed_at')::timestamptz DESC, length(source_id) DESC, source_id DESC
        ) latest
        WHERE is_member
        """,
        (source_system,),
    ).fetchall()
    return pd.DataFrame(rows, columns=["contact", "segment_id", "segment_name"], dtype=object)


def reconcile_segments(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    segments: pa.Table,
    *,
    now_ms: int,
    force: bool = False,
    run_id: str | None = None,
) -> dict[str, Any] | None:
    """When due, list every segment's members and land the differences with raw as changes of their own.

    A member raw does not know becomes an addition at the listing's time (its real start is unknown);
    a contact raw counts as a member but the segment does not list (or of a segment that no longer
    exists) becomes a removal. Costs one request per `page_limit` members of each segment.
    """
    state = read_state(conn, settings.source_system, RECONCILE_KEY)
    period_ms = settings.reconcile_hours * 3_600_000
    due = force or state.watermark_ms is None or now_ms - state.watermark_ms >= period_ms
    if settings.reconcile_hours <= 0 or not due:
        return None
    at = now_ms - now_ms % 1000
    listed = segments.to_pandas().dropna(subset=["id", "alias"])
    columns = ["contact", "segment_id", "segment_name"]
    found = pd.concat(
        [
            pd.DataFrame(
                {
                    "contact": np.asarray(segment_members(client, alias, settings.page_limit)).astype(str),
                    "segment_id": seg_id,
                    "segment_name": name,
                },
                columns=columns,
                dtype=object,
            )
            for seg_id, alias, name in listed[["id", "alias", "name"]].itertuples(index=False)
        ]
        or [pd.DataFrame(columns=columns, dtype=object)]
    ).drop_duplicates(["contact", "segment_id"])  # a page may repeat records of the page before
    both = found.merge(
        landed_members(conn, settings.source_system),
        how="outer",
        on=["contact", "segment_id"],
        indicator=True,
    )
    both["action"] = both["_merge"].map({"left_only": "added", "right_only": "removed"})
    both["name"] = both["segment_name_x"].fillna(both["segment_name_y"])
    changes = both.dropna(subset=["action"])
    stamp = datetime.fromtimestamp(at / 1000, tz=UTC).isoformat()
    events = [
        {
            "event": SEGMENT_EVENT,
            "eventId": f"reconcile:{segment_id}:{contact}:{at}",
            "eventLabel": f"reconciled: {action}",
            "timestamp": stamp,
            "contactId": contact,
            "details": {"object_description": name, "object_id": segment_id, "action": action},
        }
        for contact, segment_id, name, action in changes[
            ["contact", "segment_id", "name", "action"]
        ].itertuples(index=False)
    ]
    result = land_page(
        conn,
        source_system=settings.source_system,
        key=RECONCILE_KEY,
        tables={"segment_memberships": memberships_table(events, segments, settings)} if events else {},
        origin=f"GET /api/contacts search=segment:<alias> for {len(listed)} segment(s)",
        watermark_ms=at,
        cursor={},
        run_id=run_id,
    )
    return {
        "members": len(found),
        "added": int((changes["action"] == "added").sum()),
        "removed": int((changes["action"] == "removed").sum()),
        "landed": result.landed,
    }
