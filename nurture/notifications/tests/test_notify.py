"""notify: the notice and its deliveries are rows of the caller's transaction, once per key."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.models import Job
from nurture.notifications import actions
from nurture.notifications.actions import NotificationError, lead_payload, lead_title, mark_read, notify
from nurture.notifications.models import Notification, WebhookChannel
from nurture.notifications.tests.conftest import make_lead

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 09:00 +07:00"
LATER = "2026-03-02 10:00 +07:00"


def channel(name: str, **fields: object) -> WebhookChannel:
    return actions.save_channel(None, {"name": name, "url": f"http://127.0.0.1:9/{name}", **fields}, actor=None)


def jobs() -> list[tuple[str, dict[str, object], str | None]]:
    return sorted(Job.objects.values_list("kind", "payload", "idempotency_key"), key=lambda j: (j[0], j[2] or ""))


@time_machine.travel(NOW, tick=False)
def test_notify_writes_the_notice_and_its_jobs(alice_mail: User, bob: User, lead: Contact) -> None:
    # Given channels for everyone, for new leads only, for SLA breaches only, for bob only, and one switched off
    everyone = channel("everyone")
    new_leads = channel("new-leads", kinds=["new_lead"])
    channel("breaches", kinds=["sla_breach"])
    channel("bob", user=bob)
    channel("off", is_active=False)
    mine = channel("alice", user=alice_mail)

    # When alice is told a lead is hers
    notice = notify(alice_mail, kind="new_lead", title=lead_title(lead), contact=lead, body="Từ form IELTS")

    # Then one notice, linking to the lead, unread
    assert list(Notification.objects.values_list("user", "kind", "title", "body", "url", "contact", "read_at")) == [
        (alice_mail.pk, "new_lead", "Lead mới: Nguyễn Văn An (Facebook, nóng)", "Từ form IELTS",
         f"/contacts/{lead.pk}/", lead.pk, None),
    ]  # fmt: skip
    # And an email job and one job per channel that takes the notice, keyed by the notice
    n = notice.pk
    assert jobs() == [
        ("notifications.email", {"notification_id": n}, f"notifications.email:{n}"),
        *sorted(
            [("notifications.webhook", {"notification_id": n, "channel_id": c.pk}, f"notifications.webhook:{n}:{c.pk}")
             for c in (everyone, new_leads, mine)],
            key=lambda j: j[2],
        ),
    ]  # fmt: skip


def test_a_notice_rolled_back_with_its_caller_leaves_nothing(alice_mail: User, lead: Contact) -> None:
    # Given a channel
    channel("everyone")
    # When the caller's transaction fails after notifying
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(alice_mail, kind="new_lead", title="Lead mới", contact=lead)
        assert (Notification.objects.count(), Job.objects.count()) == (1, 2)  # inside: written together
        raise RuntimeError("capture failed")
    # Then neither the notice nor its jobs exist
    assert (Notification.objects.count(), Job.objects.count()) == (0, 0)


def test_the_same_key_gives_the_same_notice_and_sends_nothing_more(alice_mail: User, lead: Contact) -> None:
    # Given a notice made with a key
    channel("everyone")
    first = notify(alice_mail, kind="new_lead", title="Lead mới", contact=lead, key="routing:assign:1")
    # When notify is called again with that key (a retried capture), even with other words
    again = notify(alice_mail, kind="new_lead", title="Something else", contact=lead, key="routing:assign:1")
    # Then it is the first notice, and nothing more is queued
    assert again.pk == first.pk and again.title == "Lead mới"
    assert (Notification.objects.count(), Job.objects.count()) == (1, 2)
    # And another key is another notice
    notify(alice_mail, kind="new_lead", title="Lead mới", contact=lead, key="routing:assign:2")
    assert (Notification.objects.count(), Job.objects.count()) == (2, 4)


def test_no_email_without_an_address_and_no_channel_no_webhook(alice: User) -> None:
    # When alice, who has no email address, gets a notice and no channel exists
    notify(alice, kind="info", title="Chào mừng")
    # Then only the in-app notice is written
    assert (Notification.objects.count(), Job.objects.count()) == (1, 0)


@time_machine.travel(NOW, tick=False)
def test_fresh_keys_and_the_callers_jobs_take_two_statements(alice_mail: User, lead: Contact) -> None:
    # Given a notice keyed by a row the caller just made, and a timer of the caller's
    notice = actions.Notice(alice_mail, "new_lead", lead_title(lead), contact=lead, key="assignment:1")
    timer = ("routing.sla", "sla:1:breach", {"assignment_id": 1, "step": "breach"}, clock.now())
    # When it is sent with fresh_keys
    with CaptureQueriesContext(connection) as queries:
        made = actions.notify_many([notice], fresh_keys=True, jobs=[timer])
    # Then one insert of the notice, one of the email job and the timer; no lookup of the key, no savepoint
    statements = [q["sql"] for q in queries.captured_queries]
    assert [sql.split('"')[1] for sql in statements if sql.startswith("INSERT")] == [
        "notifications_notification",
        "core_job",
    ]
    assert not [sql for sql in statements if "SAVEPOINT" in sql or 'FROM "notifications_notification"' in sql]
    n = made[0].pk
    assert list(Notification.objects.values_list("pk", "key")) == [(n, "assignment:1")]
    assert jobs() == [
        ("notifications.email", {"notification_id": n}, f"notifications.email:{n}"),
        ("routing.sla", {"assignment_id": 1, "step": "breach"}, "sla:1:breach"),
    ]


def test_bad_notices_are_refused_and_nothing_written(alice_mail: User) -> None:
    with pytest.raises(NotificationError) as kind:
        notify(alice_mail, kind="birthday", title="?")
    with pytest.raises(NotificationError) as title:
        notify(alice_mail, kind="info", title="  \n ")
    assert (kind.value.field, title.value.field) == ("kind", "title")
    assert (Notification.objects.count(), Job.objects.count()) == (0, 0)


def test_mark_read_touches_only_the_users_own_unread_notices(alice: User, bob: User) -> None:
    # Given two notices for alice and one for bob
    with time_machine.travel(NOW, tick=False):
        a1 = notify(alice, kind="info", title="A1")
        notify(alice, kind="info", title="A2")
        b1 = notify(bob, kind="info", title="B1")
    # When alice marks a1 and bob's notice read, then all of hers
    with time_machine.travel(LATER, tick=False):
        assert mark_read(alice, [a1.pk, b1.pk]) == 1
        assert mark_read(alice, all_unread=True) == 1
        assert mark_read(alice, all_unread=True) == 0
        later = clock.now()
    # Then bob's is still unread, and hers were read when she marked them
    assert dict(Notification.objects.values_list("title", "read_at")) == {"A1": later, "A2": later, "B1": None}
    assert actions.unread_count(alice) == 0 and actions.unread_count(bob) == 1


def test_lead_payload(alice: User) -> None:
    alice.first_name, alice.last_name = "Alice", "Trần"
    alice.save()
    contact = make_lead(alice)
    assert lead_payload(contact) == {
        "id": contact.pk, "name": "Nguyễn Văn An", "phone": "+84912345678", "tel_url": "tel:+84912345678",
        "source": "facebook", "need": "Học IELTS 7.0 trước tháng 9", "band": "hot", "score": 72,
        "owner": "Alice Trần", "url": f"http://127.0.0.1:8000/contacts/{contact.pk}/",
    }  # fmt: skip
    nameless = make_lead(None, full_name="", phone="", source="")
    assert lead_payload(nameless)["tel_url"] == "" and lead_payload(nameless)["owner"] is None
    assert lead_title(nameless) == f"Lead mới: #{nameless.pk} (nóng)"
