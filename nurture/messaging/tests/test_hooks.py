"""Provider webhooks: eSMS receipts, Zalo's (signed) events, ESP bounces and complaints through anymail."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import time_machine
from django.test import Client
from pytest_django.fixtures import Settings

from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.jobs import process_due_jobs
from nurture.messaging.actions import send
from nurture.messaging.models import Message, Suppression, Template
from nurture.messaging.tests.conftest import ESMS_SECRET, CountingMailbox, Providers

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 10:00 +07:00"
APP_ID, OA_SECRET = "1234567890", "oa-secret-key"
ESP_SECRET = "postmark:hook-pass"


def types() -> list[str]:
    return list(Event.objects.filter(type__startswith="message_").order_by("pk").values_list("type", flat=True))


@pytest.fixture
def sms(providers: Providers, an: Contact) -> Message:
    with time_machine.travel(NOW, tick=False):
        send(an, channel="sms", key="sms-1", body="Chào")
        process_due_jobs()
    return Message.objects.get(idempotency_key="sms-1")


def test_an_esms_receipt_marks_the_sms_delivered_once(sms: Message) -> None:
    # When eSMS calls back (HTTP GET) with SendStatus 5, twice
    url = f"/hooks/sms/esms?secret={ESMS_SECRET}&SMSID={sms.provider_id}&SendStatus=5&RequestId=&TypeId=2"
    first, again = Client().get(url), Client().get(url)
    # Then the message is delivered, with one event
    assert (first.status_code, first.json(), again.status_code) == (200, {"ok": True, "found": True}, 200)
    sms.refresh_from_db()
    assert sms.status == "delivered" and sms.delivered_at is not None
    assert types() == ["message_sent", "message_delivered"]


def test_an_esms_rejection_fails_the_sms(sms: Message) -> None:
    Client().post(f"/hooks/sms/esms?secret={ESMS_SECRET}", {"RequestId": "sms-1", "SendStatus": "4"})
    sms.refresh_from_db()
    assert (sms.status, sms.reason) == ("failed", "rejected")
    assert types() == ["message_sent", "message_failed"]


def test_a_bad_esms_secret_is_401_and_changes_nothing(sms: Message, settings: Settings) -> None:
    for url in (
        f"/hooks/sms/esms?secret=wrong&SMSID={sms.provider_id}&SendStatus=5",
        f"/hooks/sms/esms?SMSID={sms.provider_id}&SendStatus=5",
    ):
        assert Client().get(url).status_code == 401
    settings.NURTURE_ESMS_WEBHOOK_SECRET = ""  # unset: every call refused
    assert Client().get(f"/hooks/sms/esms?secret=&SMSID={sms.provider_id}&SendStatus=5").status_code == 401
    sms.refresh_from_db()
    assert sms.status == "sent" and types() == ["message_sent"]


@pytest.fixture
def zalo_keys(settings: Settings) -> None:
    settings.NURTURE_ZALO_APP_ID, settings.NURTURE_ZALO_OA_SECRET_KEY = APP_ID, OA_SECRET


def zalo_post(event: dict[str, Any], *, secret: str = OA_SECRET) -> Any:
    raw = json.dumps(event).encode()
    mac = hashlib.sha256(APP_ID.encode() + raw + str(event["timestamp"]).encode() + secret.encode()).hexdigest()
    return Client().post(
        "/hooks/zalo/zns", raw, content_type="application/json", headers={"X-ZEvent-Signature": f"mac={mac}"}
    )


def test_a_zns_receipt_marks_the_message_delivered(zalo_keys: None, providers: Providers, an: Contact) -> None:
    # Given a ZNS message sent
    template = Template.objects.create(
        name="t", channel="zalo", zns_template_id="231456", created_at=clock.now(), updated_at=clock.now()
    )
    with time_machine.travel(NOW, tick=False):
        send(an, channel="zalo", key="z", template=template)
        process_due_jobs()
    message = Message.objects.get()
    event = {
        "app_id": APP_ID,
        "event_name": "user_received_message",
        "timestamp": "1772420400000",
        "message": {"msg_id": message.provider_id, "delivery_time": "1772420400000"},
    }
    # When Zalo posts a forged receipt, then it is refused
    assert zalo_post(event, secret="not-the-secret").status_code == 401
    message.refresh_from_db()
    assert message.status == "sent"
    # When Zalo posts the signed receipt, then the message is delivered
    assert zalo_post(event).status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"


def test_zalo_follows_and_messages_open_the_window_and_count_as_replies(
    zalo_keys: None, providers: Providers, an: Contact
) -> None:
    # Given An followed the OA, then received an OA message
    with time_machine.travel(NOW, tick=False):
        zalo_post({"event_name": "follow", "timestamp": "1", "follower": {"id": "zalo-an-42"}})
        message = send(an, channel="zalo", key="z", body="Chào {{ greeting }}")
        process_due_jobs()
        assert Message.objects.get(pk=message.pk).route == "zalo_oa"
    # When he writes back the next day (and a stranger writes too)
    with time_machine.travel("2026-03-03 09:00 +07:00", tick=False):
        zalo_post(
            {
                "event_name": "user_send_text",
                "timestamp": "2",
                "sender": {"id": "zalo-an-42"},
                "message": {"text": "Cho em xin lịch học", "msg_id": "m1"},
            }
        )
        zalo_post({"event_name": "user_send_text", "timestamp": "3", "sender": {"id": "stranger"}, "message": {}})
    # Then his timeline has the follow, the message and the reply to it; the stranger is left to capture
    rows = list(
        Event.objects.filter(type__in=["zalo_followed", "zalo_message_received", "message_replied"])
        .order_by("pk")
        .values_list("contact_id", "type")
    )
    assert rows == [(an.pk, "zalo_followed"), (an.pk, "zalo_message_received"), (an.pk, "message_replied")]
    assert Event.objects.get(type="message_replied").data["message_id"] == message.pk


def test_unsigned_zalo_calls_are_401(zalo_keys: None, an: Contact) -> None:
    raw = json.dumps({"event_name": "follow", "timestamp": "1", "follower": {"id": "zalo-an-42"}})
    assert Client().post("/hooks/zalo/zns", raw, content_type="application/json").status_code == 401
    assert Client().post("/hooks/zalo/zns", "nonsense", content_type="application/json").status_code == 401
    assert not Event.objects.filter(type="zalo_followed").exists()


def postmark(payload: dict[str, Any], auth: str | None = ESP_SECRET) -> Any:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    return Client().post(
        "/hooks/email/postmark/tracking/", json.dumps(payload), content_type="application/json", headers=headers
    )


@pytest.fixture
def esp_secret(settings: Settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": ESP_SECRET}


def test_an_esp_bounce_suppresses_the_address(esp_secret: None, smtp: CountingMailbox, an: Contact) -> None:
    # Given an email sent
    send(an, channel="email", key="e", subject="s", body="b")
    process_due_jobs()
    message = Message.objects.get()
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "ID": 42,
        "Email": "an@example.vn",
        "MessageID": "pm-1",
        "Metadata": {"nurture_message_id": str(message.pk)},
        "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 no such user",
        "BouncedAt": "2026-03-02T03:00:00Z",
    }
    # When Postmark posts the bounce
    assert postmark(bounce).status_code == 200
    # Then the address is suppressed, the message failed, and the timeline has the bounce
    suppression = Suppression.objects.get()
    assert (suppression.channel, suppression.address, suppression.reason) == ("email", "an@example.vn", "bounce")
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "rejected")
    assert Event.objects.get(type="email_bounced").data["message_id"] == message.pk
    # And the next email is refused
    assert send(an, channel="email", key="e2", subject="s", body="b").reason == "suppressed"


def test_an_esp_complaint_suppresses_by_address(esp_secret: None, an: Contact) -> None:
    complaint = {
        "RecordType": "SpamComplaint",
        "Type": "SpamComplaint",
        "ID": 43,
        "Email": "AN@example.vn",
        "MessageID": "unknown",
        "BouncedAt": "2026-03-02T03:00:00Z",
    }
    assert postmark(complaint).status_code == 200
    assert list(Suppression.objects.values_list("address", "reason")) == [("an@example.vn", "complaint")]
    assert Event.objects.get(type="email_complaint").contact_id == an.pk


def test_an_esp_webhook_without_the_secret_is_401(esp_secret: None, an: Contact, settings: Settings) -> None:
    complaint = {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "an@example.vn"}
    assert postmark(complaint, auth=None).status_code == 401
    assert postmark(complaint, auth="postmark:wrong").status_code == 401
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert postmark(complaint, auth=":").status_code == 401
    assert not Suppression.objects.exists() and not Event.objects.filter(type="email_complaint").exists()
