"""Real parts for the notifications tests: an SMTP server (aiosmtpd) and a loopback webhook endpoint."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pytest_django.fixtures import Settings

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.lifecycle import stages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_lead(owner: User | None, **fields: Any) -> Contact:
    """A contact written directly, so no capture hook (routing, scoring) adds notices or jobs of its own."""
    now = clock.now()
    values: dict[str, Any] = {
        "full_name": "Nguyễn Văn An", "phone": "+84912345678", "source": "facebook",
        "need": "Học IELTS 7.0 trước tháng 9", "band": Contact.Band.HOT, "score": 72, **fields,
    }  # fmt: skip
    return Contact.objects.create(
        owner=owner, stage_id=stages.entry_stage_id(), created_at=now, updated_at=now, last_activity_at=now, **values
    )


@pytest.fixture
def lead(alice: User) -> Contact:
    return make_lead(alice)


@pytest.fixture
def alice_mail(alice: User) -> User:
    alice.first_name, alice.last_name, alice.email = "Alice", "Trần", "alice@example.vn"
    alice.save()
    return alice


# --- SMTP ----------------------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or b"", policy=email.policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port, and the settings that send through it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    settings.DEFAULT_FROM_EMAIL = "Nurture <nurture@example.vn>"
    yield mailbox
    controller.stop()


# --- webhook endpoint ----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("X-Nurture-Signature", ""))


@dataclass
class Endpoint:
    """A loopback HTTP server that records each request and answers `status` (with `answer` as the body)."""

    url: str = ""
    status: int = 200
    answer: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/nurture"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
