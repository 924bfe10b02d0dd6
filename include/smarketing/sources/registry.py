"""The connector registry: what the extraction entry point (`smarketing.sources.extract`) needs to
know of an API source, without importing it.

A connector module registers itself (`register(Connector(...))`) when imported; the entry point
imports the built-in ones (HubSpot, Mautic). A new source is a package that builds its settings,
hook and `extract_object`, registers a `Connector`, and is imported by the entry point: nothing here
or in the shared layers (`http`, `state`, `paging`, `records`) changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from smarketing.errors import ConfigurationError
from smarketing.sources.hooks import ApiHook
from smarketing.sources.http import ApiClient


class SourceSettings(Protocol):
    """What the entry point reads of a connector's settings."""

    source_system: str
    conn_id: str
    objects: tuple[str, ...]


class ExtractObject(Protocol):
    def __call__(
        self,
        conn: psycopg.Connection,
        client: ApiClient,
        settings: Any,
        name: str,
        *,
        now_ms: int,
        since_ms: int | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Pull object `name` into raw (the caller holds the extraction lock); returns counts."""
        ...


@dataclass(frozen=True)
class Connector:
    """One API source system.

    `settings` builds the settings from a source entry and the connection's extra (ValueError on a bad
    key); `hook` is the Airflow hook class of its connections; `objects` every object it can pull;
    `extract_object` pulls one.
    """

    system: str
    settings: Callable[[Mapping[str, Any], Mapping[str, Any] | None], SourceSettings]
    hook: type[ApiHook]
    objects: tuple[str, ...]
    extract_object: ExtractObject


_CONNECTORS: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    """Add a connector (re-registering the same system replaces it); returns it."""
    _CONNECTORS[connector.system] = connector
    return connector


def systems() -> tuple[str, ...]:
    """The registered systems, in registration order."""
    return tuple(_CONNECTORS)


def connector(system: str) -> Connector:
    """The connector of `system`; ConfigurationError naming the known ones otherwise (a source's
    settings are wrong: a task fails at once rather than retrying)."""
    try:
        return _CONNECTORS[system]
    except KeyError:
        raise ConfigurationError(
            f"unknown API source system '{system}' (systems: {', '.join(systems())})"
        ) from None
