"""The email job, through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import pytest

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.notifications.actions import lead_title, notify
from nurture.notifications.tests.conftest import Mailbox

pytestmark = pytest.mark.django_db


def test_a_new_lead_email_arrives_with_the_name_tel_link_and_url(
    smtp_server: Mailbox, alice_mail: User, lead: Contact
) -> None:
    # Given alice was told a lead is hers
    notify(alice_mail, kind="new_lead", title=lead_title(lead), contact=lead, body="Từ form IELTS tháng 9")

    # When the worker runs the email job
    assert process_due_jobs() is True

    # Then one message reached the SMTP server, to alice, in Vietnamese
    assert [(e.mail_from, e.rcpt_tos) for e in smtp_server.envelopes] == [("nurture@example.vn", ["alice@example.vn"])]
    message = smtp_server.messages[0]
    # Django folds an encoded Subject onto its next line; a reader unfolds it.
    assert message["Subject"].strip() == "Lead mới: Nguyễn Văn An (Facebook, nóng)"
    assert message["To"] == "alice@example.vn"
    url = f"http://127.0.0.1:8000/contacts/{lead.pk}/"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for line in ("Tên: Nguyễn Văn An", "Số điện thoại: +84912345678  (gọi: tel:+84912345678)", "Nguồn: facebook",
                 "Nhu cầu: Học IELTS 7.0 trước tháng 9", "Mức: Nóng (điểm 72)", "Từ form IELTS tháng 9",
                 f"Mở trong Nurture: {url}"):  # fmt: skip
        assert line in text.splitlines(), (line, text)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<a href="tel:+84912345678">+84912345678</a>' in html
    assert f'<a href="{url}">Mở trong Nurture</a>' in html
    assert Job.objects.get(kind="notifications.email").status == Job.Status.DONE


def test_an_smtp_failure_is_retried_later(smtp_server: Mailbox, settings: object, alice_mail: User) -> None:
    # Given the SMTP server cannot be reached
    settings.EMAIL_PORT = 9  # type: ignore[attr-defined]
    notify(alice_mail, kind="info", title="Chào Alice")
    # When the job runs
    process_due_jobs()
    # Then nothing was sent and the job waits for another try
    job = Job.objects.get(kind="notifications.email")
    assert (job.status, job.attempts, smtp_server.envelopes) == (Job.Status.QUEUED, 1, [])
    assert "ConnectionRefusedError" in job.last_error


def test_a_user_who_lost_their_address_is_skipped(smtp_server: Mailbox, alice_mail: User) -> None:
    # Given a queued email, then alice's address removed
    notify(alice_mail, kind="info", title="Chào Alice")
    User.objects.filter(pk=alice_mail.pk).update(email="")
    # When the job runs, then nothing is sent and the job is done
    process_due_jobs()
    assert smtp_server.envelopes == []
    assert Job.objects.get(kind="notifications.email").status == Job.Status.DONE
