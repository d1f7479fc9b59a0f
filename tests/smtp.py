"""A real SMTP server for tests: aiosmtpd on a free local port, keeping what arrives.

`smtp_server` starts it; tests configure the app with its port and parse the
messages with the `email` package. `stop()`/`start()` take it down and bring
it back on the same port, to test delivery while the server is away.
"""
from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any, Awaitable, Callable

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # An SMTP reply such as "451 4.3.0 Try again later" refuses every message while set.
    refuse_with: str | None = None
    # Address -> reply refusing it at RCPT TO, e.g. {"gone@example.org": "550 5.1.1 No such user"}.
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    # async (envelope) -> reply or None, awaited before a message is kept: refuse one message, or stall.
    on_data: Callable[[Any], Awaitable[str | None]] | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            return self.refuse_with
        if self.on_data is not None:
            reply = await self.on_data(envelope)
            if reply:
                return reply
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = _Handler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return [item.message for item in self.handler.received]

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> "SmtpServer":
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def config(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_TIMEOUT_SECONDS": 5}


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()
