"""Sandbox mode of a local Airflow (`make airflow`): point the pipeline's connections and sources at the
sandbox API, in the Airflow metadata database, where the UI shows them (Admin → Connections, Variables).

Everything written here carries the description `SANDBOX_MARK`, so a later start tells the sandbox's
entries from ones a person made: a connection or Variable without the mark is *real* and switches
the sandbox off (`auto`), and is never overwritten. When the sandbox is off, its marked entries are
removed, so no task calls a sandbox that is not running.

    smarketing-sandbox airflow-setup --mode auto --url http://127.0.0.1:8765

prints `on` or `off` as its last line (the script reads it) after the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SANDBOX_MARK = "smarketing sandbox (make airflow): points at the local sandbox API"
CONNECTION_IDS = ("smarketing_hubspot", "smarketing_mautic")
# The objects the demo pulls: every HubSpot object the pipeline models, and Mautic's defaults.
API_SOURCES = [
    {
        "system": "hubspot",
        "objects": [
            "owners",
            "companies",
            "contacts",
            "deals",
            "calls",
            "emails",
            "meetings",
            "notes",
            "tasks",
        ],
    },
    {"system": "mautic"},
]
VARIABLES = {"smarketing_api_sources": API_SOURCES, "smarketing_file_sources": []}
# Settings from the environment that configure real sources: any of them switches `auto` off.
SOURCE_ENV = (
    "AIRFLOW_CONN_SMARKETING_HUBSPOT",
    "AIRFLOW_CONN_SMARKETING_MAUTIC",
    "SMARKETING_API_SOURCES",
    "SMARKETING_FILE_SOURCES",
)


@dataclass(frozen=True)
class Decision:
    """Whether the sandbox runs, and the one-line reason a person reads."""

    on: bool
    reason: str


def real_settings(environ: Mapping[str, str], stored: Mapping[str, str | None]) -> list[str]:
    """Names of the settings that configure real sources: set environment variables of `SOURCE_ENV`,
    and stored connections/Variables (`stored`: name → description) without the sandbox mark."""
    found = [name for name in SOURCE_ENV if environ.get(name)]
    return found + [name for name, description in sorted(stored.items()) if description != SANDBOX_MARK]


def decide(mode: str, real: list[str]) -> Decision:
    """Sandbox on or off for `mode` (`auto`, `on`, `off`) given the real settings found.

    ValueError for an unknown mode, or `on` while real settings exist (the sandbox would hide them).
    """
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"SMARKETING_SANDBOX={mode!r}: expected auto, on or off")
    if mode == "off":
        return Decision(False, "off (SMARKETING_SANDBOX=off)")
    if real and mode == "on":
        raise ValueError(
            f"SMARKETING_SANDBOX=on, but real sources are configured ({', '.join(real)}): "
            "remove them, or start with SMARKETING_SANDBOX=auto/off to use them"
        )
    if real:
        return Decision(False, f"off: real sources configured ({', '.join(real)})")
    return Decision(True, f"on ({'SMARKETING_SANDBOX=on' if mode == 'on' else 'no real source configured'})")


def sandbox_connections(url: str) -> dict[str, dict[str, Any]]:
    """The sandbox's connections (conn_id → Connection fields) for the server at `url`."""
    from smarketing_sandbox.server import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAUTIC_PASSWORD, ServerConfig

    return {
        "smarketing_hubspot": {"conn_type": "hubspot", "host": url, "password": DEFAULT_HUBSPOT_TOKEN},
        "smarketing_mautic": {
            "conn_type": "mautic",
            "host": url,
            "login": ServerConfig.mautic_login,
            "password": DEFAULT_MAUTIC_PASSWORD,
        },
    }


def _stored(session: Any) -> dict[str, str | None]:
    from airflow.models import Connection, Variable
    from sqlalchemy import select

    names = tuple(VARIABLES)
    conns = session.execute(
        select(Connection.conn_id, Connection.description).where(Connection.conn_id.in_(CONNECTION_IDS))
    ).all()
    variables = session.execute(
        select(Variable.key, Variable.description).where(Variable.key.in_(names))
    ).all()
    return dict(conns) | dict(variables)


def _remove_sandbox_entries(session: Any) -> None:
    from airflow.models import Connection, Variable
    from sqlalchemy import delete

    session.execute(
        delete(Connection).where(
            Connection.conn_id.in_(CONNECTION_IDS), Connection.description == SANDBOX_MARK
        )
    )
    session.execute(
        delete(Variable).where(Variable.key.in_(tuple(VARIABLES)), Variable.description == SANDBOX_MARK)
    )


def _write_sandbox_entries(session: Any, url: str) -> None:
    from airflow.models import Connection, Variable

    _remove_sandbox_entries(session)
    session.flush()
    for conn_id, fields in sandbox_connections(url).items():
        session.add(Connection(conn_id=conn_id, description=SANDBOX_MARK, **fields))
    for key, value in VARIABLES.items():
        session.add(Variable(key=key, val=json.dumps(value), description=SANDBOX_MARK))


def configure(mode: str, url: str, environ: Mapping[str, str] | None = None) -> Decision:
    """Decide the sandbox mode and make the metadata database match it: the sandbox's connections and
    Variables written (on, pointing at `url`) or removed (off). Real entries are never touched."""
    from airflow.utils.session import create_session

    with create_session() as session:
        decision = decide(mode, real_settings(os.environ if environ is None else environ, _stored(session)))
        if decision.on:
            _write_sandbox_entries(session, url)
        else:
            _remove_sandbox_entries(session)
    return decision
