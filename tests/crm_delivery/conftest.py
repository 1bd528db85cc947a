"""Loopback servers that speak what the connectors call, and fail on purpose.

``FakeHubSpot`` answers HubSpot's CRM v3 contact requests (``POST .../gdpr-delete`` with
``{"objectId"}``, ``PATCH .../contacts/{id}`` with ``{"properties"}``) against a small contact
store, checks the Bearer token, and plays a script of failures first (a timeout, 429 with
Retry-After, 5xx, 401). ``FakeWebhook`` verifies the HMAC signature and acts once per
idempotency key, as a receiver should.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cm_pipelines.domain.crm_delivery import signing

TOKEN = "pat-na1-test-token"
SECRET = "whsec-test-secret"
TIMEOUT_SECONDS = 0.5


@dataclass
class Received:
    method: str
    path: str
    headers: Any  # http.client.HTTPMessage: names are case-insensitive, as in HTTP
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeServer:
    """A script of failures to play first (``"timeout"`` or ``(status, headers)``), then the
    real behaviour; every request is kept as received."""

    script: list[Any] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    effects: dict[str, int] = field(default_factory=dict)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_scripted(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else None


def _handler(server: FakeServer, answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            received = Received(self.command, self.path, self.headers, body)
            server.received.append(received)
            scripted = server.next_scripted()
            if scripted == "timeout":
                time.sleep(TIMEOUT_SECONDS * 3)
                return
            status, headers, payload = scripted + ({},) if scripted else answer(server, received)
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            data = json.dumps(payload).encode() if payload else b""
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PATCH = _serve  # noqa: N815 - http.server's method names

    return Handler


def hubspot_answer(server: FakeServer, request: Received) -> tuple[int, dict, dict]:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return 401, {}, {"status": "error", "category": "INVALID_AUTHENTICATION"}
    prefix = "/crm/v3/objects/contacts/"
    if request.method == "POST" and request.path == prefix + "gdpr-delete":
        contact_id = request.json()["objectId"]
        if server.contacts.pop(contact_id, None) is None:
            return 404, {}, {"status": "error", "category": "OBJECT_NOT_FOUND"}
        return 204, {}, {}
    if request.method == "PATCH" and request.path.startswith(prefix):
        contact_id = request.path[len(prefix) :]
        if contact_id not in server.contacts:
            return 404, {}, {"status": "error", "category": "OBJECT_NOT_FOUND"}
        server.contacts[contact_id].update(request.json()["properties"])
        return 200, {}, {"id": contact_id, "properties": server.contacts[contact_id]}
    return 400, {}, {"status": "error", "category": "VALIDATION_ERROR"}


def webhook_answer(server: FakeServer, request: Received) -> tuple[int, dict, dict]:
    try:
        signing.verify(
            SECRET.encode(),
            request.headers.get(signing.SIGNATURE_HEADER),
            request.body,
            now=int(time.time()),
        )
    except signing.SignatureError:
        return 401, {}, {"error": "bad signature"}
    key = request.headers[signing.IDEMPOTENCY_HEADER]
    server.effects[key] = server.effects.get(key, 0) + (0 if key in server.effects else 1)
    return 202, {}, {}


def _serve(answer) -> Iterator[FakeServer]:
    fake = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, answer))
    httpd.daemon_threads = True
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _no_connector_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's CRM settings must not reach a test."""
    for name in (
        "CM_CRM_HUBSPOT_TOKEN",
        "CM_CRM_HUBSPOT_API_URL",
        "CM_CRM_HUBSPOT_RESTRICT_PROPERTY",
        "CM_CRM_WEBHOOK_URL",
        "CM_CRM_WEBHOOK_SECRET",
        "CM_CRM_WEBHOOK_SYSTEMS",
        "CM_CRM_TIMEOUT_SECONDS",
        "CM_CRM_RETRY_BASE_SECONDS",
        "CM_CRM_RETRY_CAP_SECONDS",
        "CM_CRM_MAX_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hubspot() -> Iterator[FakeServer]:
    yield from _serve(hubspot_answer)


@pytest.fixture
def webhook() -> Iterator[FakeServer]:
    yield from _serve(webhook_answer)
