"""The HubSpot connector: one object pull by name, registered with the connector registry."""

from __future__ import annotations

from typing import Any

import psycopg

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.crm import pull_crm_object
from smarketing.sources.hubspot.email_events import pull_email_events
from smarketing.sources.hubspot.forms import pull_form_submissions
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.hubspot.owners import pull_owners
from smarketing.sources.hubspot.settings import ALL_OBJECTS, SOURCE_SYSTEM, HubSpotSettings
from smarketing.sources.paging import Window
from smarketing.sources.registry import Connector, register


def extract_object(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    name: str,
    *,
    now_ms: int,
    since_ms: int | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Pull one object into raw; returns counts. The caller holds the extraction lock.

    `now_ms` is the run's "now" (the window ends `lag` before it); `since_ms` a backfill start.
    """
    if name == "owners":
        return pull_owners(conn, client, settings, run_id=run_id)
    window = Window.of(now_ms, lag_s=settings.lag_s, overlap_s=settings.overlap_s, since_ms=since_ms)
    if name == "email_events":
        return pull_email_events(conn, client, settings, window, run_id=run_id)
    if name == "form_submissions":
        return pull_form_submissions(conn, client, settings, window, run_id=run_id)
    return pull_crm_object(conn, client, settings, name, window, run_id=run_id)


CONNECTOR = register(
    Connector(
        system=SOURCE_SYSTEM,
        settings=HubSpotSettings.from_config,
        hook=HubSpotHook,
        objects=ALL_OBJECTS,
        extract_object=extract_object,
    )
)
