"""Running the real connectors against the sandbox and keeping every reply they consume."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from smarketing.sources.extract import source_settings
from smarketing.sources.registry import connector
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import connect, drop_database, with_database
from smarketing_sandbox.server import SandboxServer
from tests.conftest import SERVER_DSN
from tests.integration.sandbox_support import credentials


@contextmanager
def fresh_warehouse() -> Iterator[str]:
    """A migrated warehouse database of its own, dropped afterwards (the replies are recorded once per
    module; the session's warehouse stays as the other tests expect it)."""
    dsn = with_database(SERVER_DSN, f"smk_contract_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    try:
        yield dsn
    finally:
        drop_database(dsn)


@dataclass(frozen=True)
class Reply:
    """One request the connector made and the decoded JSON it got back."""

    method: str
    path: str
    params: Any
    body: Any
    data: Any

    def route(self) -> str:
        """The path with ids replaced by `{id}` (one contract per endpoint, not per record)."""
        return re.sub(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$)", "/{id}", self.path.rstrip("/"))


def record_pull(
    server: SandboxServer, dsn: str, entry: Mapping[str, Any], objects: Iterable[str]
) -> list[Reply]:
    """Pull `objects` of `entry["system"]` with the connector's own client, into the warehouse at `dsn`,
    and return every reply, in order. The client is the connector's; only `request_json` is wrapped."""
    system = str(entry["system"])
    source = connector(system)
    settings = source_settings(system, entry, None)
    client = source.hook(credentials=credentials(server, system)).client(settings)
    replies: list[Reply] = []
    real = client.request_json

    def recording(method: str, path: str, **kwargs: Any) -> Any:
        data = real(method, path, **kwargs)
        replies.append(Reply(method, path, kwargs.get("params"), kwargs.get("json_body"), data))
        return data

    client.request_json = recording  # type: ignore[method-assign]
    with connect(dsn, autocommit=True) as conn, client:
        for obj in objects:
            source.extract_object(
                conn, client, settings, obj, now_ms=int(time.time() * 1000), run_id="contract"
            )
    return replies
