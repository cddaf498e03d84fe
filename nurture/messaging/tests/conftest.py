"""Real parts for the messaging tests: SMTP (aiosmtpd) and a loopback server speaking eSMS and Zalo's APIs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pytest_django.fixtures import Settings

from nurture.accounts.models import User
from nurture.contacts.models import Consent, Contact, Identity
from nurture.core import clock
from nurture.messaging.providers import email as email_provider
from nurture.notifications.tests.conftest import Mailbox, free_port, make_lead

ZALO_TOKEN = "zalo-access-token"
ESMS_SECRET = "esms-hook-secret"


@pytest.fixture(autouse=True)
def _fresh_connection() -> Iterator[None]:
    # The worker's SMTP connection outlives a message by design; each test gets its own server.
    yield
    email_provider.close()


def consent(contact: Contact, *channels: str, granted: bool = True, at: datetime | None = None) -> None:
    for channel in channels:
        Consent.objects.create(contact=contact, channel=channel, granted=granted, source="form", at=at or clock.now())


@pytest.fixture
def owner(alice: User) -> User:
    alice.first_name, alice.last_name, alice.phone = "Hoa", "Lê", "+84901111222"
    alice.save()
    return alice


@pytest.fixture
def an(owner: User) -> Contact:
    """Nguyễn Văn An: email, phone and Zalo id, consent on every channel."""
    contact = make_lead(
        owner,
        email="an@example.vn",
        gender="male",
        given_name="An",
        family_name="Nguyễn",
        name_folded="nguyen van an",
        province="Hà Nội",
        custom_fields={"course": "IELTS 7.0"},
    )
    Identity.objects.create(contact=contact, kind="zalo", value="zalo-an-42", created_at=clock.now())
    # Given at the start of the year: the tests move the clock to March 2026.
    consent(contact, "email", "sms", "zalo", at=datetime.fromisoformat("2026-01-01T09:00+07:00"))
    return contact


# --- SMTP ----------------------------------------------------------------------------------------------


class CountingMailbox(Mailbox):
    """Also counts SMTP sessions, to show a worker reuses its connection."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def smtp(settings: Settings) -> Iterator[CountingMailbox]:
    mailbox = CountingMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    settings.NURTURE_MESSAGING_FROM_EMAIL = "Sao Mai <hello@saomai.edu.vn>"
    yield mailbox
    email_provider.close()
    controller.stop()


# --- eSMS and Zalo -------------------------------------------------------------------------------------


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Providers:
    """eSMS, Zalo ZNS and Zalo OA on one loopback server. `failures` answers that many calls with HTTP 500."""

    url: str = ""
    failures: int = 0
    calls: list[Call] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [c.path for c in self.calls]


def _answer(path: str, headers: dict[str, str], body: dict[str, Any], n: int) -> dict[str, Any]:
    if path.endswith("/SendMultipleMessage_V4_post_json/"):
        if body.get("ApiKey") != "esms-key":
            return {"CodeResult": "101", "ErrorMessage": "Authorize Failed"}
        return {"CodeResult": "100", "CountRegenerate": 0, "SMSID": f"sms-{n}"}
    if headers.get("access_token") != ZALO_TOKEN:
        return {"error": -216, "message": "Access token is invalid"}
    if path == "/message/template":
        return {"error": 0, "message": "Success", "data": {"msg_id": f"zns-{n}", "sent_time": "1700000000000"}}
    if path == "/v3.0/oa/message/cs":
        return {
            "error": 0,
            "message": "Success",
            "data": {"message_id": f"oa-{n}", "user_id": body["recipient"]["user_id"]},
        }
    return {"error": -1, "message": f"unknown path {path}"}


@pytest.fixture
def providers(settings: Settings) -> Iterator[Providers]:
    state = Providers()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.calls.append(Call(self.path, headers, body))
            if state.failures:
                state.failures -= 1
                status, answer = 500, b'{"error": "provider is down"}'
            else:
                status, answer = 200, json.dumps(_answer(self.path, headers, body, len(state.calls))).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.NURTURE_ESMS_URL = settings.NURTURE_ZALO_ZNS_URL = settings.NURTURE_ZALO_OA_URL = state.url
    settings.NURTURE_ESMS_API_KEY, settings.NURTURE_ESMS_SECRET_KEY = "esms-key", "esms-secret"
    settings.NURTURE_ESMS_BRANDNAME, settings.NURTURE_ESMS_WEBHOOK_SECRET = "SAOMAI", ESMS_SECRET
    settings.NURTURE_ZALO_ACCESS_TOKEN = ZALO_TOKEN
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
