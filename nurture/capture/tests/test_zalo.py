"""Zalo OA: signed events, a follower who shares a phone becomes a contact with their conversation on the
timeline, and the shared OA token refreshed before it expires, against loopback Zalo endpoints."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources.zalo import tokens
from nurture.capture.tests.conftest import ZALO_APP_SECRET, Provider, connect
from nurture.contacts.models import Contact, Event, Identity
from nurture.core import clock
from nurture.core.jobs import enqueue_daily_jobs, process_due_jobs
from nurture.core.models import Job
from nurture.messaging.hooks import zalo_signature
from nurture.messaging.models import Message
from nurture.messaging.providers import zalo as zalo_provider

pytestmark = pytest.mark.django_db
OA_SECRET = "oa-secret-key"
T0 = 1772420400000  # 2026-03-02 10:00 Hanoi, in Zalo's milliseconds


@pytest.fixture
def oa() -> Connection:
    return connect(
        "zalo",
        name="Sao Mai OA",
        account_id="oa-1",
        app_id="zalo-app-1",
        app_secret=ZALO_APP_SECRET,
        signing_secret=OA_SECRET,
        access_token="zalo-access-1",
        refresh_token="zalo-refresh-1",
    )


def post(connection: Connection, event: dict[str, Any], *, secret: str = OA_SECRET) -> Any:
    raw = json.dumps(event).encode()
    mac = zalo_signature(raw, str(event.get("timestamp", "")), app_id=connection.app_id, secret=secret)
    return Client().post(
        f"/hooks/capture/{connection.key}",
        raw,
        content_type="application/json",
        headers={"X-ZEvent-Signature": f"mac={mac}"},
    )


def follow(user: str, at: int) -> dict[str, Any]:
    return {
        "app_id": "zalo-app-1",
        "event_name": "follow",
        "timestamp": str(at),
        "oa_id": "oa-1",
        "follower": {"id": user},
    }


def text(user: str, at: int, body: str, msg_id: str) -> dict[str, Any]:
    return {
        "app_id": "zalo-app-1",
        "event_name": "user_send_text",
        "timestamp": str(at),
        "sender": {"id": user},
        "recipient": {"id": "oa-1"},
        "message": {"msg_id": msg_id, "text": body},
    }


def image(user: str, at: int, msg_id: str) -> dict[str, Any]:
    attachment = {"type": "image", "payload": {"url": "https://zalo.example/anh.jpg", "thumbnail": ""}}
    return {
        "app_id": "zalo-app-1",
        "event_name": "user_send_image",
        "timestamp": str(at),
        "sender": {"id": user},
        "recipient": {"id": "oa-1"},
        "message": {"msg_id": msg_id, "text": "", "attachments": [attachment]},
    }


def submit_info(user: str, at: int, **info: str) -> dict[str, Any]:
    return {
        "app_id": "zalo-app-1",
        "event_name": "user_submit_info",
        "timestamp": str(at),
        "sender": {"id": user},
        "recipient": {"id": "oa-1"},
        "info": info,
    }


def test_a_follower_who_shares_a_phone_becomes_a_contact_with_the_conversation(oa: Connection) -> None:
    # Given a stranger who follows the OA and writes to it: kept, waiting
    assert post(oa, follow("zu-7", T0)).status_code == 200
    post(oa, text("zu-7", T0 + 60_000, "Cho em hỏi học phí khóa IELTS", "m1"))
    post(oa, image("zu-7", T0 + 90_000, "m2"))
    assert not Contact.objects.exists()
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"waiting"}
    # When they share their phone through the OA's form
    response = post(oa, submit_info("zu-7", T0 + 120_000, name="Võ Thị Lan", phone="0903 123 456", city="Đà Nẵng"))
    # Then they are a contact carrying their Zalo id, with the conversation on the timeline, in order
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.full_name, contact.phone, contact.province, contact.source) == (
        "Võ Thị Lan",
        "+84903123456",
        "Đà Nẵng",
        "zalo",
    )
    assert Identity.objects.filter(contact=contact, kind="zalo", value="zu-7").exists()
    timeline = list(Event.objects.filter(contact=contact).order_by("at", "pk").values_list("type", "data"))
    assert [t for t, _ in timeline] == [
        "zalo_followed",
        "zalo_message_received",
        "zalo_message_received",
        "zalo_info_shared",
    ]
    assert timeline[1][1]["text"] == "Cho em hỏi học phí khóa IELTS"
    assert timeline[2][1]["attachments"] == ["https://zalo.example/anh.jpg"]
    assert set(InboundEvent.objects.values_list("status", "contact_id")) == {("done", contact.pk)}
    # And what they write next lands on the contact directly (through messaging: the 7-day window opens)
    post(oa, text("zu-7", T0 + 180_000, "Cảm ơn ạ", "m3"))
    assert Event.objects.filter(contact=contact, type="zalo_message_received").count() == 3


def test_bad_signatures_are_401_and_nothing_is_stored(oa: Connection) -> None:
    assert post(oa, follow("zu-7", T0), secret="forged").status_code == 401
    bare = Client().post(f"/hooks/capture/{oa.key}", json.dumps(follow("zu-7", T0)), content_type="application/json")
    assert bare.status_code == 401
    assert Client().post(f"/hooks/capture/{oa.key}", "nonsense", content_type="text/plain").status_code == 401
    assert not InboundEvent.objects.exists()


def test_a_replayed_event_is_accepted_once(oa: Connection) -> None:
    post(oa, submit_info("zu-8", T0, name="Lan", phone="0903123456"))
    again = post(oa, submit_info("zu-8", T0, name="Lan", phone="0903123456"))
    assert again.json() == {"ok": True, "duplicate": True}
    assert Event.objects.filter(type="zalo_info_shared").count() == 1


def test_shared_info_without_a_phone_is_a_400_dead_letter(oa: Connection) -> None:
    response = post(oa, submit_info("zu-9", T0, name="Lan"))
    assert response.status_code == 400 and response.json()["error"] == "info.phone: missing"
    assert InboundEvent.objects.get().status == "dead"
    assert not Contact.objects.exists()


def test_the_oa_token_is_refreshed_before_it_expires_and_messaging_sends_with_it(
    provider: Provider, oa: Connection
) -> None:
    start = datetime.fromisoformat("2026-03-02T10:00:00+07:00")
    with time_machine.travel(start, tick=False):
        oa.token_expires_at = clock.now() + timedelta(hours=25)
        actions.save_connection(oa)
    job = Job.objects.get(kind=tokens.REFRESH_JOB)
    assert job.due_at == start + timedelta(hours=24)  # an hour before expiry
    # Nothing happens before it is due
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert not process_due_jobs()
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        process_due_jobs()
    oa.refresh_from_db()
    assert (oa.access_token, oa.refresh_token) == ("zalo-access-2", "zalo-refresh-2")
    assert oa.token_expires_at == start + timedelta(hours=24, seconds=1) + timedelta(seconds=90000)
    call = next(c for c in provider.calls if c[1] == "/v4/oa/access_token")
    assert (call[3]["secret_key"], call[3]["refresh_token"], call[3]["app_id"]) == (
        ZALO_APP_SECRET,
        "zalo-refresh-1",
        "zalo-app-1",
    )
    # The next refresh is queued for the new expiry
    assert Job.objects.filter(kind=tokens.REFRESH_JOB, status="queued").get().due_at == oa.token_expires_at - timedelta(
        hours=1
    )
    # And messaging sends OA messages with the refreshed token from the same store
    assert zalo_provider.send_oa(Message(address="zu-7", body="Chào chị Lan")) == "oa-msg-1"
    assert provider.calls[-1][3]["access_token"] == "zalo-access-2"


def test_a_refused_refresh_is_recorded_and_retried(provider: Provider, oa: Connection) -> None:
    provider.zalo_refresh = "another"
    oa.token_expires_at = clock.now() + timedelta(minutes=30)
    actions.save_connection(oa)
    process_due_jobs()
    oa.refresh_from_db()
    job = Job.objects.get(kind=tokens.REFRESH_JOB)
    assert (job.status, job.attempts) == ("queued", 1)
    assert oa.access_token == "zalo-access-1" and "Invalid refresh token" in oa.last_error


def test_the_daily_safety_net_refreshes_a_token_whose_refresh_was_missed(provider: Provider, oa: Connection) -> None:
    Connection.objects.filter(pk=oa.pk).update(token_expires_at=clock.now() - timedelta(minutes=5))
    enqueue_daily_jobs()
    with time_machine.travel(clock.now() + timedelta(days=1, hours=1), tick=False):
        while process_due_jobs():
            pass
    oa.refresh_from_db()
    assert oa.access_token == "zalo-access-2"
    assert provider.refreshes == 1
