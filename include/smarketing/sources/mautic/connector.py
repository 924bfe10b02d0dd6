"""The Mautic connector: one object pull by name, registered with the connector registry."""

from __future__ import annotations

from typing import Any

import psycopg

from smarketing.sources.http import ApiClient
from smarketing.sources.mautic.contacts import pull_contacts
from smarketing.sources.mautic.hook import MauticHook
from smarketing.sources.mautic.segments import pull_segments
from smarketing.sources.mautic.settings import OBJECTS, SOURCE_SYSTEM, MauticSettings
from smarketing.sources.mautic.timeline import pull_activity
from smarketing.sources.paging import Window
from smarketing.sources.registry import Connector, register


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
    """Pull one object into raw; returns counts. The caller holds the extraction lock.

    `now_ms` is the run's "now" (the window ends `lag` before it); `since_ms` a backfill start (it
    also forces the segment reconciliation).
    """
    window = Window.of(now_ms, lag_s=settings.lag_s, overlap_s=settings.overlap_s, since_ms=since_ms)
    if name == "activity":
        return pull_activity(conn, client, settings, window, run_id=run_id)
    if name == "segments":
        return pull_segments(conn, client, settings, window, now_ms=now_ms, run_id=run_id)
    return pull_contacts(conn, client, settings, window, run_id=run_id)


CONNECTOR = register(
    Connector(
        system=SOURCE_SYSTEM,
        settings=MauticSettings.from_config,
        hook=MauticHook,
        objects=tuple(OBJECTS),
        extract_object=extract_object,
    )
)
