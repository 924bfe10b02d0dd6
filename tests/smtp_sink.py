"""A real local SMTP server (aiosmtpd) that tests send mail to through an Airflow SMTP connection."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """Collects what the SMTP server accepted; `refuse` makes it answer 451 (temporary failure)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse:
            return "451 Try again later"
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpt, m in self.messages if address in rcpt]

    def subjects(self) -> list[str]:
        return sorted(m["Subject"] for _, m in self.messages)


@contextmanager
def smtp_sink(monkeypatch: pytest.MonkeyPatch, conn_id: str) -> Iterator[Sink]:
    """Start a sink on a free loopback port and define the Airflow connection `conn_id` pointing at it
    (plain SMTP, no retries), for as long as the block runs."""
    handler = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    extra = {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 10}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra}),
    )
    try:
        yield handler
    finally:
        controller.stop()
