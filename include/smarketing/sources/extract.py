"""Entry point of the API sources: one object of one source, as the DAG tasks and the CLI run it.

The built-in connectors (HubSpot, Mautic) register with `smarketing.sources.registry` when their
connector modules are imported, which this module does; it sits above them and the shared layers
(`http`, `hooks`, `state`, `paging`, `records`), none of which imports it. Credentials come from the
connector's Airflow hook (`smarketing.sources.hooks`); the pull's invariant is `smarketing.sources.state`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from smarketing.errors import ConfigurationError, SmarketingError
from smarketing.sources.http import ApiCredentials
from smarketing.sources.hubspot import connector as _hubspot  # noqa: F401  (registers the connector)
from smarketing.sources.mautic import connector as _mautic  # noqa: F401  (registers the connector)
from smarketing.sources.registry import Connector, SourceSettings, connector
from smarketing.sources.settings import share_limits
from smarketing.sources.state import ExtractError, extraction_lock
from smarketing.tasklog import count, listing, moment, summary

log = logging.getLogger(__name__)


def source_settings(system: str, entry: Mapping[str, Any], extra: Mapping[str, Any] | None) -> Any:
    """The settings of source `entry` of `system` over the connection's `extra` (None: the entry
    alone); an `entry["limit_share"]` below 1 scales the rate limits. SmarketingError when bad."""
    try:
        settings = connector(system).settings(entry, extra)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(f"{system}: bad source configuration: {exc}") from None
    # Tasks of one account running side by side split its rate limit between them.
    return share_limits(settings, float(entry.get("limit_share", 1.0)))


def api_tasks(sources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One task per source and object: `[{"system", "object", "entry"}]`, in a landing-friendly order."""
    tasks: list[dict[str, Any]] = []
    for entry in sources:
        system = str(entry.get("system", ""))
        settings = source_settings(system, entry, None)
        tasks += [{"system": system, "object": obj, "entry": dict(entry)} for obj in settings.objects]
    names = ", ".join(f"{t['system']}/{t['object']}" for t in tasks)
    summary(f"{count(len(tasks), 'API object')} to pull: {names}" if tasks else "no API source configured")
    return tasks


def parse_since(value: str | datetime | None) -> int | None:
    """Backfill start: ISO date or date-time (UTC when naive) → epoch ms."""
    if value is None or value == "":
        return None
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _summarize(source_system: str, object: str, result: Mapping[str, Any], http: Mapping[str, Any]) -> str:
    """The pull's one summary line: what arrived, what was new, the watermark, the HTTP work."""
    received, landed = int(result.get("received", result.get("landed", 0))), int(result.get("landed", 0))
    # Overlapping windows and retried pages read some versions again; raw keeps each once.
    again = f", {count(received - landed)} already landed" if received != landed else ""
    retries = http.get("retries_by_reason") or {}
    retried = f" ({listing(retries)})" if retries else ""
    return summary(
        f"{source_system}/{object}: {count(received)} received{again}, {count(landed)} new "
        f"in {count(result.get('pages', 0), 'page')}; watermark {moment(result.get('watermark'))}; "
        f"{count(http.get('requests', 0), 'request')}, {count(http.get('retries', 0), 'retry', 'retries')}"
        f"{retried}, {count(http.get('throttled', 0))} throttled"
    )


def _check_object(source: Connector, settings: SourceSettings, object: str) -> None:
    if object not in (*settings.objects, *source.objects):
        raise ConfigurationError(f"{source.system}: unknown object '{object}'")


def extract(
    system: str,
    object: str,
    *,
    dsn: str,
    entry: Mapping[str, Any] | None = None,
    since: str | datetime | None = None,
    run_id: str | None = None,
    credentials: ApiCredentials | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Pull one object of one API source into raw; returns counts and the HTTP client's statistics.

    `entry` is the source's entry of `smarketing_api_sources` (default `{"system": system}`); `since`
    a backfill start; `run_id` the Airflow run (kept on the batches). Credentials come from the
    connector's hook on the connection named in the entry (`conn_id`, default `smarketing_<system>`)
    unless given; the connection's extra may hold settings too (rate limits). `now_ms` fixes "now".
    """
    from smarketing.warehouse.connection import connect

    source = connector(system)
    entry = dict(entry or {"system": system})
    hook = source.hook(str(entry.get("conn_id") or source.hook.default_conn_name), credentials=credentials)
    settings = source_settings(system, entry, hook.extra)
    _check_object(source, settings, object)
    client = hook.client(settings)
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        with connect(dsn, autocommit=True) as conn, extraction_lock(conn, settings.source_system, object):
            try:
                result = source.extract_object(
                    conn, client, settings, object, now_ms=now, since_ms=parse_since(since), run_id=run_id
                )
            except ExtractError:
                raise
            except SmarketingError as exc:
                raise ExtractError(settings.source_system, object, {}, str(exc)) from exc
    finally:
        client.close()
        http = client.stats.as_dict()
    _summarize(settings.source_system, object, result, http)
    return {"system": system, "object": object, **result, "http": http}


def extract_task(
    task: Mapping[str, Any],
    *,
    dsn: str,
    since: str | None = None,
    run_id: str | None = None,
    limit_share: float = 1.0,
) -> dict[str, Any]:
    """One mapped DAG task: pull `task["object"]` of `task["system"]`; a small JSON summary for XCom.

    `limit_share` is this task's share of the account's rate limits (tasks run side by side).
    """
    entry = dict(task.get("entry") or {"system": task["system"]})
    if limit_share < 1.0:
        entry["limit_share"] = limit_share
    result = extract(
        str(task["system"]), str(task["object"]), dsn=dsn, entry=entry, since=since, run_id=run_id
    )
    return {
        "system": result["system"],
        "object": result["object"],
        "pages": result.get("pages", 0),
        "received": result.get("received", 0),
        "landed": result.get("landed", 0),
        "watermark": result.get("watermark"),
        "requests": result["http"]["requests"],
        "retries": result["http"]["retries"],
    }
