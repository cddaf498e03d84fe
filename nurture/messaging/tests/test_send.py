"""`send`: what is queued, refused or skipped, and when it is due."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from pytest_django.fixtures import Settings

from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.models import Job
from nurture.messaging.actions import SEND_BATCH, MessagingError, Outgoing, send, send_many
from nurture.messaging.models import ChannelPolicy, Message, Suppression, Template
from nurture.messaging.tests.conftest import consent
from nurture.notifications.tests.conftest import make_lead

pytestmark = pytest.mark.django_db
DAY = "2026-03-02 10:00 +07:00"  # a Monday morning in Hà Nội


def zalo_template(**fields: object) -> Template:
    values: dict[str, object] = {
        "name": "Nhắc lịch",
        "channel": "zalo",
        "body": "Chào {{ greeting }}, lớp {{ custom.course }} sắp khai giảng.",
        "sms_body": "Chao {{ given_name }}, lop sap khai giang.",
        "created_at": clock.now(),
        "updated_at": clock.now(),
        **fields,
    }
    return Template.objects.create(**values)


def statuses() -> list[tuple[str, str, str]]:
    return list(Message.objects.order_by("pk").values_list("channel", "status", "reason"))


@time_machine.travel(DAY, tick=False)
def test_an_email_is_queued_rendered_with_its_job(an: Contact) -> None:
    # When a message is sent with a subject and body given directly
    message = send(
        an,
        channel="email",
        key="welcome:1",
        subject="Chào {{ greeting }}",
        body="{{ owner.name }} ({{ owner.phone }}) sẽ gọi {{ greeting }} về {{ custom.course }}.",
        origin="journey:7",
    )

    # Then it is queued now, rendered for An, with one delivery job keyed by the message
    assert (message.status, message.route, message.address, message.origin) == (
        "queued",
        "email",
        "an@example.vn",
        "journey:7",
    )
    assert message.subject == "Chào anh An"
    assert message.body == "Hoa Lê (+84901111222) sẽ gọi anh An về IELTS 7.0."
    assert message.due_at == clock.now()
    job = Job.objects.get()
    assert (job.kind, job.payload, job.idempotency_key, job.due_at) == (
        "messaging.send",
        {"message_ids": [message.pk]},
        f"messaging.send:{message.pk}",
        clock.now(),
    )


def test_the_same_key_returns_the_first_message(an: Contact) -> None:
    first = send(an, channel="sms", key="k-1", body="Một")
    again = send(an, channel="sms", key="k-1", body="Hai")
    assert again.pk == first.pk and again.body == "Một"
    assert (Message.objects.count(), Job.objects.count()) == (1, 1)


def test_a_rolled_back_caller_sends_nothing(an: Contact) -> None:
    # Given a journey step whose transaction fails after calling send
    with pytest.raises(RuntimeError), transaction.atomic():
        send(an, channel="sms", key="k-rollback", body="Chào")
        raise RuntimeError("the journey step failed")
    # Then neither the message nor its job exists
    assert (Message.objects.count(), Job.objects.count()) == (0, 0)


def test_sms_and_zalo_need_a_consent_row(owner: User) -> None:
    # Given a contact who gave no consent at all, and one who refused SMS
    silent = make_lead(owner)
    refused = make_lead(owner, phone="+84987654321")
    consent(refused, "sms", granted=False)
    # When both are sent an SMS and a Zalo message
    send(silent, channel="sms", key="a", body="x")
    send(silent, channel="zalo", key="b", body="x")
    send(refused, channel="sms", key="c", body="x")
    # Then all are refused for consent, and nothing is queued
    assert statuses() == [
        ("sms", "refused", "no_consent"),
        ("zalo", "refused", "no_consent"),
        ("sms", "refused", "no_consent"),
    ]
    assert Job.objects.count() == 0


def test_email_without_a_consent_row_follows_the_setting(settings: Settings, owner: User) -> None:
    contact = make_lead(owner, email="binh@example.vn")
    # With NURTURE_EMAIL_NEEDS_CONSENT (the default) it is refused
    assert send(contact, channel="email", key="e1", subject="s", body="b").reason == "no_consent"
    # Without it, a contact captured with an email may be mailed, unless they refused
    settings.NURTURE_EMAIL_NEEDS_CONSENT = False
    assert send(contact, channel="email", key="e2", subject="s", body="b").status == "queued"
    consent(contact, "email", granted=False)
    assert send(contact, channel="email", key="e3", subject="s", body="b").reason == "no_consent"


def test_the_latest_consent_decides(an: Contact) -> None:
    consent(an, "sms", granted=False)
    assert send(an, channel="sms", key="s1", body="x").reason == "no_consent"
    consent(an, "sms", granted=True)
    assert send(an, channel="sms", key="s2", body="x").status == "queued"


def test_no_address_and_suppressed_addresses_are_refused(an: Contact, owner: User) -> None:
    # Given a contact with no email, and An's phone suppressed by hand
    no_email = make_lead(owner, email="")
    consent(no_email, "email")
    Suppression.objects.create(channel="sms", address="+84912345678", reason="manual", created_at=clock.now())
    # When they are sent messages
    send(no_email, channel="email", key="a", subject="s", body="b")
    send(an, channel="sms", key="b", body="x")
    # Then both are refused with the reason, and An's email still goes
    send(an, channel="email", key="c", subject="s", body="b")
    assert statuses() == [("email", "refused", "no_address"), ("sms", "refused", "suppressed"), ("email", "queued", "")]


def test_the_frequency_cap_counts_every_origin_on_the_channel(an: Contact) -> None:
    # Given the default cap of 2 SMS per 7 days, and two SMS from different journeys this week
    with time_machine.travel("2026-02-24 10:00 +07:00", tick=False):
        send(an, channel="sms", key="old", body="x")  # 6 days before: still counts
    with time_machine.travel(DAY, tick=False):
        send(an, channel="sms", key="j2", body="x", origin="journey:2")
        # When a third comes, then it is skipped; email is counted apart
        assert send(an, channel="sms", key="j3", body="x").reason == "frequency_cap"
        assert send(an, channel="email", key="e", subject="s", body="b").status == "queued"
    # And once the oldest is 7 days old, one more may go
    with time_machine.travel("2026-03-03 10:00:01 +07:00", tick=False):
        assert send(an, channel="sms", key="j4", body="x").status == "queued"
    assert [s for _, s, _ in statuses()] == ["queued", "queued", "skipped", "queued", "queued"]


def test_a_saved_policy_replaces_the_default_cap(an: Contact) -> None:
    ChannelPolicy.objects.create(channel="email", max_messages=1, per_days=1)
    send(an, channel="email", key="a", subject="s", body="b")
    assert send(an, channel="email", key="b", subject="s", body="b").reason == "frequency_cap"
    ChannelPolicy.objects.filter(channel="email").update(max_messages=0)  # 0: no cap
    assert send(an, channel="email", key="c", subject="s", body="b").status == "queued"


def test_quiet_hours_defer_sms_and_zalo_not_email(an: Contact) -> None:
    # Given 22:30 in Hà Nội
    with time_machine.travel("2026-03-02 22:30 +07:00", tick=False):
        sms = send(an, channel="sms", key="s", body="x")
        mail = send(an, channel="email", key="e", subject="s", body="b")
    # Then the SMS waits until 08:00 next morning (queued, not refused) and its job is due then; email goes now
    morning = clock.now().fromisoformat("2026-03-03T08:00:00+07:00")
    assert (sms.status, sms.due_at) == ("queued", morning)
    assert Job.objects.get(payload={"message_ids": [sms.pk]}).due_at == morning
    assert mail.due_at == mail.created_at
    # And a Zalo OA message just after midnight, the same morning
    with time_machine.travel("2026-03-03 00:10 +07:00", tick=False):
        Event.objects.create(contact=an, type="zalo_message_received", at=clock.now() - timedelta(hours=1))
        assert send(an, channel="zalo", key="z", template=zalo_template()).due_at == morning


def test_a_policy_can_move_the_quiet_hours(an: Contact) -> None:
    ChannelPolicy.objects.create(channel="sms", max_messages=5, per_days=7, quiet_from=time(12), quiet_to=time(13))
    with time_machine.travel("2026-03-02 12:15 +07:00", tick=False):
        message = send(an, channel="sms", key="s", body="x")
    assert message.due_at == clock.now().fromisoformat("2026-03-02T13:00:00+07:00")


@time_machine.travel(DAY, tick=False)
def test_zalo_goes_as_an_oa_message_within_7_days_of_an_interaction(an: Contact) -> None:
    # Given An wrote to the OA 6 days ago
    Event.objects.create(contact=an, type="zalo_message_received", at=clock.now() - timedelta(days=6, hours=23))
    # When a Zalo message is sent
    message = send(an, channel="zalo", key="z", template=zalo_template(zns_template_id="231456"))
    # Then it is a free-form OA message to his Zalo user id
    assert (message.route, message.address, message.body) == (
        "zalo_oa",
        "zalo-an-42",
        "Chào anh An, lớp IELTS 7.0 sắp khai giảng.",
    )


@time_machine.travel(DAY, tick=False)
def test_zalo_goes_as_zns_by_phone_after_7_days(an: Contact) -> None:
    # Given An's last interaction is 8 days old, and the template has an approved ZNS template
    Event.objects.create(contact=an, type="zalo_followed", at=clock.now() - timedelta(days=8))
    template = zalo_template(
        zns_template_id="231456", zns_params={"name": "{{ full_name }}", "course": "{{ custom.course }}"}
    )
    # When it is sent, then it goes as ZNS to his phone with the parameters rendered
    message = send(an, channel="zalo", key="z", template=template)
    assert (message.route, message.address, message.zns_template_id) == ("zalo_zns", "+84912345678", "231456")
    assert message.zns_data == {"name": "Nguyễn Văn An", "course": "IELTS 7.0"}


@time_machine.travel(DAY, tick=False)
def test_zalo_without_a_route_falls_back_to_sms_or_is_skipped(an: Contact, owner: User) -> None:
    # Given no interaction and a template without ZNS
    template = zalo_template()
    # When the caller asks for the SMS fallback, then the template's SMS text goes as an SMS
    fallback = send(an, channel="zalo", key="f", template=template, fallback="sms")
    assert (fallback.channel, fallback.route, fallback.address, fallback.body) == (
        "sms",
        "sms",
        "+84912345678",
        "Chao An, lop sap khai giang.",
    )
    # And with "skip", the message is stored skipped with the reason
    skipped = send(an, channel="zalo", key="s", template=template)
    assert (skipped.status, skipped.reason) == ("skipped", "no_zalo_route")
    # And the fallback SMS keeps the SMS rules: without SMS consent it is refused
    other = make_lead(owner, phone="+84987654321")
    consent(other, "zalo")
    assert send(other, channel="zalo", key="o", template=template, fallback="sms").reason == "no_consent"
    assert Job.objects.count() == 1


def test_a_template_error_refuses_the_message(an: Contact) -> None:
    message = send(an, channel="sms", key="t", body="Lớp {{ custom.missing }}")
    assert (message.status, message.reason) == ("refused", "template_error")
    assert "missing" in message.error


def test_bad_arguments_are_refused_naming_the_field(an: Contact) -> None:
    for kwargs, field in (
        ({"channel": "fax"}, "channel"),
        ({"channel": "sms", "fallback": "email"}, "fallback"),
        ({"channel": "sms", "key": ""}, "key"),
    ):
        with pytest.raises(MessagingError) as caught:
            send(an, **{"key": "k", "body": "x", **kwargs})  # type: ignore[arg-type]
        assert caught.value.field == field
    with pytest.raises(MessagingError) as caught:
        send(an, channel="sms", key="k", template=zalo_template())
    assert caught.value.field == "template"
    assert Message.objects.count() == 0


@time_machine.travel(DAY, tick=False)
def test_a_batch_decides_each_message_in_a_few_queries(
    an: Contact, owner: User, django_assert_max_num_queries: Any
) -> None:
    # Given SMS capped at one a day, and 40 more contacts: every other one without consent, one suppressed
    ChannelPolicy.objects.create(channel="sms", max_messages=1, per_days=1)
    others = [make_lead(owner, phone=f"+849120000{i:02d}") for i in range(40)]
    for i, contact in enumerate(others):
        consent(contact, "sms", granted=i % 2 == 0)
    Suppression.objects.create(channel="sms", address=others[2].phone, reason="unsubscribe", created_at=clock.now())
    # When one send_many messages them all, An twice (two keys) and a key used before once more
    first = send(an, channel="sms", key="before", body="x")
    items = [Outgoing(c, f"b:{c.pk}", {"offer": "10%"}) for c in [an, *others]]
    items += [Outgoing(an, "b:again"), Outgoing(an, "before")]
    with django_assert_max_num_queries(14):
        messages = send_many(items, channel="sms", body="Chào {{ greeting }}, ưu đãi {{ offer | default('') }}")
    # Then each message is decided as send() would: An is over the cap, consent and suppression are honoured
    by_key = {m.idempotency_key: (m.status, m.reason) for m in messages}
    assert by_key[f"b:{an.pk}"] == by_key["b:again"] == ("skipped", "frequency_cap")
    assert messages[-1] == first
    assert by_key[f"b:{others[1].pk}"] == ("refused", "no_consent")
    assert by_key[f"b:{others[2].pk}"] == ("refused", "suppressed")
    queued = [m for m in messages[1:41] if m.status == "queued"]
    assert len(queued) == 19 and {m.body for m in queued} == {"Chào anh/chị, ưu đãi 10%"}
    # And the queued ones share delivery jobs of at most SEND_BATCH messages, each message in exactly one
    jobs = Job.objects.exclude(idempotency_key=f"messaging.send:{first.pk}")
    carried = [pk for job in jobs for pk in job.payload["message_ids"]]
    assert sorted(carried) == sorted(m.pk for m in queued)
    assert all(len(job.payload["message_ids"]) <= SEND_BATCH for job in jobs)
