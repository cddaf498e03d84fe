"""The `messaging.send` job against real SMTP (aiosmtpd) and a loopback eSMS/Zalo server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from pytest_django.fixtures import Settings

from nurture.accounts.models import User
from nurture.contacts.models import Consent, Contact, Event
from nurture.core import clock
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.messaging.actions import Outgoing, send, send_many
from nurture.messaging.models import Message, Suppression, Template
from nurture.messaging.providers.zalo import tracking_id
from nurture.messaging.tests.conftest import ZALO_TOKEN, CountingMailbox, Providers, consent
from nurture.notifications.tests.conftest import free_port, make_lead

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 10:00 +07:00"


def sent_events() -> list[dict[str, object]]:
    return [e.data for e in Event.objects.filter(type="message_sent").order_by("pk")]


@time_machine.travel(NOW, tick=False)
def test_an_email_arrives_with_both_parts_tracking_and_one_click_unsubscribe(
    smtp: CountingMailbox, an: Contact
) -> None:
    # Given a queued email with a link
    message = send(
        an,
        channel="email",
        key="welcome:an",
        subject="Chào {{ greeting }}",
        origin="journey:3",
        body="Chào {{ greeting }},\n\nLịch khai giảng: https://saomai.edu.vn/lich?khoa=ielts&lop=7",
    )

    # When the worker runs the job
    assert process_due_jobs() is True

    # Then one email reached the SMTP server, from the messaging sender to An
    [envelope] = smtp.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("hello@saomai.edu.vn", ["an@example.vn"])
    mail = smtp.messages[0]
    assert mail["Subject"].strip() == "Chào anh An"
    # And it carries the one-click unsubscribe headers (RFC 8058) and a stable Message-ID
    unsubscribe = re.fullmatch(r"<(http://127\.0\.0\.1:8000/m/u/[^>]+)>", mail["List-Unsubscribe"].strip())
    assert unsubscribe is not None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<nurture\.{message.pk}\.[0-9a-f]{{16}}@saomai\.edu\.vn>", mail["Message-ID"])
    # And the text part has the original link and an unsubscribe footer in Vietnamese
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Lịch khai giảng: https://saomai.edu.vn/lich?khoa=ielts&lop=7" in text
    assert f"Hủy đăng ký: {unsubscribe.group(1)}" in text
    # And the HTML part tracks the link, has the pixel, and leaves the unsubscribe link untracked
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [tracked] = re.findall(r'href="(http://127\.0\.0\.1:8000/m/c/[^"]+)"', html)
    assert re.search(r'<img src="http://127\.0\.0\.1:8000/m/o/[^"]+\.gif"', html)
    assert f'href="{unsubscribe.group(1)}"' in html
    # And the message is sent, with the Message-ID as provider id, and on An's timeline
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.provider_id) == ("sent", clock.now(), mail["Message-ID"])
    assert sent_events() == [
        {"message_id": message.pk, "channel": "email", "route": "email", "origin": "journey:3", "template_id": None}
    ]
    # And the tracked link leads to the original URL
    response = Client().get(tracked.replace("http://127.0.0.1:8000", "").replace("&amp;", "&"))
    assert (response.status_code, response["Location"]) == (302, "https://saomai.edu.vn/lich?khoa=ielts&lop=7")


def test_one_worker_sends_many_emails_over_one_connection(
    smtp: CountingMailbox, an: Contact, settings: Settings
) -> None:
    # Given five queued emails (no cap for the test)
    settings.NURTURE_MESSAGE_CAPS = {**settings.NURTURE_MESSAGE_CAPS, "email": (0, 7)}
    for n in range(5):
        send(an, channel="email", key=f"news:{n}", subject=f"Tin {n}", body="Nội dung")
    # When the worker runs them
    process_due_jobs()
    # Then all five went through a single SMTP session
    assert (len(smtp.envelopes), smtp.sessions) == (5, 1)
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_the_connection_is_reopened_after_an_error(smtp: CountingMailbox, an: Contact, settings: Settings) -> None:
    # Given the server goes away after the first email
    send(an, channel="email", key="a", subject="A", body="a")
    process_due_jobs()
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # a new address: the worker must open a new connection
    send(an, channel="email", key="b", subject="B", body="b")
    process_due_jobs()
    failed = Message.objects.get(idempotency_key="b")
    assert (failed.status, failed.error[:24]) == ("queued", "ProviderError: Connectio")
    # When the server is back and the retry is due
    settings.EMAIL_PORT = port
    with time_machine.travel(clock.now() + timedelta(seconds=31)):
        process_due_jobs()
    # Then it is sent on a fresh session
    assert (len(smtp.envelopes), smtp.sessions) == (2, 2)
    assert Message.objects.get(idempotency_key="b").status == "sent"


@time_machine.travel(NOW, tick=False)
def test_an_sms_goes_through_esms_keyed_by_the_message(providers: Providers, an: Contact) -> None:
    # Given a queued SMS
    message = send(an, channel="sms", key="journey:3:step:2:contact:1", body="SAOMAI: Chao {{ given_name }}")
    # When the job runs
    process_due_jobs()
    # Then eSMS got one request with the key as RequestId, and the message is sent with eSMS's id
    [call] = providers.calls
    assert call.path == "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
    assert call.body == {
        "ApiKey": "esms-key",
        "SecretKey": "esms-secret",
        "Phone": "84912345678",
        "Content": "SAOMAI: Chao An",
        "Brandname": "SAOMAI",
        "SmsType": "2",
        "IsUnicode": "0",
        "RequestId": "journey:3:step:2:contact:1",
        "CallbackUrl": "http://127.0.0.1:8000/hooks/sms/esms?secret=esms-hook-secret",
    }
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("sent", "sms-1")
    # And running the job again (a worker killed before marking it done) sends nothing more
    Job.objects.update(status=Job.Status.QUEUED)
    process_due_jobs()
    assert len(providers.calls) == 1 and len(sent_events()) == 1


@time_machine.travel(NOW, tick=False)
def test_zns_and_oa_messages_go_to_zalo(providers: Providers, an: Contact) -> None:
    # Given a ZNS message (no recent interaction) and, after An writes to the OA, a free-form one
    template = Template.objects.create(
        name="Xác nhận",
        channel="zalo",
        body="Cảm ơn {{ greeting }}!",
        zns_template_id="231456",
        zns_params={"name": "{{ full_name }}"},
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    zns = send(an, channel="zalo", key="zns-" + "k" * 60, template=template)
    Event.objects.create(contact=an, type="zalo_message_received", at=clock.now())
    oa = send(an, channel="zalo", key="oa-1", template=template)
    # When the jobs run
    process_due_jobs()
    # Then Zalo got the ZNS by phone with its tracking id, and the OA message by user id, with the token
    zns_call, oa_call = providers.calls
    assert (zns_call.path, zns_call.headers["access_token"]) == ("/message/template", ZALO_TOKEN)
    assert zns_call.body == {
        "phone": "84912345678",
        "template_id": "231456",
        "template_data": {"name": "Nguyễn Văn An"},
        "tracking_id": tracking_id(zns.idempotency_key),
    }
    assert len(zns_call.body["tracking_id"]) == 48
    assert oa_call.path == "/v3.0/oa/message/cs"
    assert oa_call.body == {"recipient": {"user_id": "zalo-an-42"}, "message": {"text": "Cảm ơn anh An!"}}
    assert list(Message.objects.order_by("pk").values_list("status", "provider_id")) == [
        ("sent", "zns-1"),
        ("sent", "oa-2"),
    ]
    assert [e["route"] for e in sent_events()] == ["zalo_zns", "zalo_oa"]
    assert oa.pk != zns.pk


def test_a_failing_provider_is_retried_then_the_message_fails_with_the_reason(
    providers: Providers, an: Contact
) -> None:
    # Given eSMS answers 500 to every call
    providers.failures = 99
    with time_machine.travel(NOW, tick=False):
        message = send(an, channel="sms", key="k", body="Chào")
    # When the job has run five times, each when its back-off is over
    for attempt in range(1, 6):
        with time_machine.travel(Job.objects.get().due_at, tick=False):
            process_due_jobs()
        message.refresh_from_db()
        if attempt < 5:
            # Then between attempts it stays queued with the last error, never lost
            assert (message.status, message.error) == (
                "queued",
                'ProviderError: HTTP 500: {"error": "provider is down"}',
            )
    # Then after the last attempt it is failed with the reason, the job too, and the timeline says so
    assert len(providers.calls) == 5
    assert (message.status, message.reason) == ("failed", "provider_error")
    assert Job.objects.get().status == Job.Status.FAILED
    [event] = Event.objects.filter(type="message_failed")
    assert (event.data["message_id"], event.data["error"]) == (message.pk, message.error)


@time_machine.travel(NOW, tick=False)
def test_a_provider_refusal_is_an_error_too(providers: Providers, an: Contact, settings: Settings) -> None:
    settings.NURTURE_ESMS_API_KEY = "wrong"
    send(an, channel="sms", key="k", body="Chào")
    process_due_jobs()
    assert Message.objects.get().error == "ProviderError: eSMS 101: Authorize Failed"


def test_an_unsubscribe_or_bounce_while_queued_stops_the_message(
    smtp: CountingMailbox, providers: Providers, an: Contact
) -> None:
    # Given an SMS deferred to the morning and an email queued, then consent withdrawn and the email bounced
    with time_machine.travel("2026-03-02 23:00 +07:00", tick=False):
        send(an, channel="sms", key="s", body="x")
        send(an, channel="email", key="e", subject="s", body="b")
        Consent.objects.create(contact=an, channel="sms", granted=False, source="call", at=clock.now())
        Suppression.objects.create(channel="email", address="an@example.vn", reason="bounce", created_at=clock.now())
    # When the jobs come due
    with time_machine.travel("2026-03-03 08:00:01 +07:00", tick=False):
        process_due_jobs()
    # Then nothing was sent and both are refused with the reason
    assert (providers.calls, smtp.envelopes) == ([], [])
    assert list(Message.objects.order_by("pk").values_list("status", "reason")) == [
        ("refused", "no_consent"),
        ("refused", "suppressed"),
    ]


def test_one_failure_in_a_batch_holds_back_only_that_message(providers: Providers, an: Contact, owner: User) -> None:
    # Given three SMS in one delivery job, and eSMS failing the first call only
    others = [make_lead(owner, phone=f"+8491200000{i}") for i in range(2)]
    for contact in others:
        consent(contact, "sms")
    with time_machine.travel(NOW, tick=False):
        send_many([Outgoing(c, f"k{c.pk}") for c in [an, *others]], channel="sms", body="Chào")
    [job] = Job.objects.all()
    providers.failures = 1
    # When the job runs, then the other two are sent and on the timeline; the first waits with its error
    with time_machine.travel(NOW, tick=False):
        process_due_jobs()
    assert list(Message.objects.order_by("pk").values_list("status", flat=True)) == ["queued", "sent", "sent"]
    assert Message.objects.order_by("pk")[0].error.startswith("ProviderError: HTTP 500")
    assert len(sent_events()) == 2
    # And when the job comes round again, only the held-back message goes: nobody gets a second SMS
    job.refresh_from_db()
    with time_machine.travel(job.due_at, tick=False):
        process_due_jobs()
    assert list(Message.objects.order_by("pk").values_list("status", flat=True)) == ["sent", "sent", "sent"]
    assert [c.body["Phone"] for c in providers.calls].count("84912345678") == 2
    assert len(providers.calls) == 4 and len(sent_events()) == 3
    assert Job.objects.get().status == Job.Status.DONE


def test_an_oa_message_held_past_the_7_day_window_is_not_sent(providers: Providers, an: Contact) -> None:
    # Given An wrote to the OA 6 days and 20 hours before a Zalo message written at 22:30, held by quiet hours
    with time_machine.travel("2026-03-02 22:30 +07:00", tick=False):
        Event.objects.create(contact=an, type="zalo_message_received", at=clock.now() - timedelta(days=6, hours=20))
        held = send(an, channel="zalo", key="late", body="Chào {{ greeting }}")
    assert (held.route, held.status) == ("zalo_oa", "queued")
    # When its job comes due at 08:00, past the 7 days
    with time_machine.travel(Job.objects.get().due_at, tick=False):
        process_due_jobs()
    # Then Zalo is not called and the message is refused for want of a Zalo route
    held.refresh_from_db()
    assert (providers.calls, held.status, held.reason) == ([], "refused", "no_zalo_route")
