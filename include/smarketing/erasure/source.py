"""Asking HubSpot and Mautic to erase the person too, only when the request says so.

HubSpot: `POST /crm/v3/objects/contacts/gdpr-delete` with `{"objectId": "<contact id>"}` (a permanent,
GDPR-compliant delete; 204, no body). Mautic: `DELETE /api/contacts/{id}/delete` (200 with the deleted
contact). A contact already gone (404) counts as done, so a retried erasure converges. Each system is
reached through its Airflow hook (connections `smarketing_hubspot`, `smarketing_mautic`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from smarketing.sources.http import ApiError

if TYPE_CHECKING:
    from smarketing.sources.http import ApiClient

log = logging.getLogger(__name__)

DEFAULT_CONNECTIONS = {"hubspot": "smarketing_hubspot", "mautic": "smarketing_mautic"}
ClientFactory = Callable[[str], "ApiClient"]


def _delete_request(system: str, contact_id: str) -> tuple[str, str, dict[str, str] | None]:
    if system == "hubspot":
        return "POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": contact_id}
    return "DELETE", f"/api/contacts/{contact_id}/delete", None


def hook_client(system: str) -> ApiClient:
    """A client for `system` from its Airflow connection (the default factory)."""
    from smarketing.sources.hubspot.hook import HubSpotHook
    from smarketing.sources.mautic.hook import MauticHook

    conn_id = DEFAULT_CONNECTIONS[system]
    return (HubSpotHook(conn_id) if system == "hubspot" else MauticHook(conn_id)).client()


def erase_at_source(
    records: Iterable[tuple[str, str]], clients: ClientFactory = hook_client
) -> dict[str, dict[str, int]]:
    """Delete the person's contacts in the systems that hold them.

    Args:
        records: (source_system, source_id) of every record of the person; systems other than hubspot
            and mautic (file exports) are left out, there is nothing to ask.
        clients: gives an API client per system (tests pass the sandbox's).

    Returns:
        Per system, how many contacts were deleted and how many were already gone.
    Raises:
        ApiError when a system refuses (any answer but success or 404): the caller erases nothing locally.
    """
    by_system: dict[str, list[str]] = {}
    for system, source_id in sorted(set(records)):
        if system in DEFAULT_CONNECTIONS:
            by_system.setdefault(system, []).append(source_id)
    outcome: dict[str, dict[str, int]] = {}
    for system, ids in by_system.items():
        with clients(system) as client:
            outcome[system] = _delete_all(client, system, ids)
        log.info("asked %s to erase %s contact(s): %s", system, len(ids), outcome[system])
    return outcome


def _delete_all(client: ApiClient, system: str, ids: Iterable[str]) -> dict[str, int]:
    tally = {"deleted": 0, "missing": 0}
    for contact_id in ids:
        method, path, body = _delete_request(system, contact_id)
        try:
            client.request_json(method, path, json_body=body)
            tally["deleted"] += 1
        except ApiError as exc:
            if exc.status != 404:
                raise
            tally["missing"] += 1
    return tally
