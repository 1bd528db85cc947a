"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent, and the alert settings
that point the platform at it."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

UI_BASE_URL = "https://dagster.cm.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpSink:
    port: int
    envelopes: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.envelopes.append(envelope)
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes
        ]

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.messages]


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    monkeypatch.setenv("CM_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CM_ALERT_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("CM_ALERT_EMAIL_FROM", "cm-alerts@cm.test")
    monkeypatch.setenv("CM_ALERT_EMAIL_TO", "privacy@cm.test, data@cm.test")
    monkeypatch.setenv("CM_UI_BASE_URL", UI_BASE_URL)
    try:
        yield sink
    finally:
        controller.stop()
