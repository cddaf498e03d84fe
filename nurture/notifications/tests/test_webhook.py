"""The webhook job, against a loopback HTTP server: signed JSON, and retries when the endpoint fails."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.notifications import actions
from nurture.notifications.actions import lead_payload, lead_title, notify
from nurture.notifications.models import WebhookChannel
from nurture.notifications.tests.conftest import Endpoint, free_port

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 09:00 +07:00"
SECRET = "s3cr3t-for-the-zalo-relay"


def channel(url: str, **fields: object) -> WebhookChannel:
    return actions.save_channel(None, {"name": "Zalo relay", "url": url, "secret": SECRET, **fields}, actor=None)


@time_machine.travel(NOW, tick=False)
def test_a_notice_is_posted_as_signed_json(endpoint: Endpoint, alice: User, lead: Contact) -> None:
    # Given a channel for every notice
    relay = channel(endpoint.url)
    notice = notify(alice, kind="new_lead", title=lead_title(lead), contact=lead)

    # When the worker runs the webhook job
    assert process_due_jobs() is True

    # Then one POST arrived, signed with the channel's secret, naming the event
    [request] = endpoint.received
    assert request.path == "/hooks/nurture"
    assert request.signed_with(SECRET) and not request.signed_with("another secret")
    assert request.headers["X-Nurture-Event"] == "new_lead"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    # And the body has the notice and the lead as a chat message needs it
    assert json.loads(request.body) == {
        "id": notice.pk, "kind": "new_lead", "title": "Lead mới: Nguyễn Văn An (Facebook, nóng)", "body": "",
        "url": f"http://127.0.0.1:8000/contacts/{lead.pk}/",
        "user": {"username": "alice", "name": "alice", "email": ""},
        "lead": lead_payload(lead), "sent_at": "2026-03-02T02:00:00+00:00",
    }  # fmt: skip
    # And the channel shows the success
    relay.refresh_from_db()
    assert (relay.last_status, relay.last_error, relay.last_sent_at) == (200, "", clock.now())
    assert Job.objects.get().status == Job.Status.DONE


def test_a_failing_endpoint_is_retried_with_back_off(endpoint: Endpoint, alice: User, lead: Contact) -> None:
    # Given an endpoint answering 500
    endpoint.status, endpoint.answer = 500, b'{"error": "relay is down"}'
    relay = channel(endpoint.url)
    with time_machine.travel(NOW, tick=False):
        notify(alice, kind="new_lead", title=lead_title(lead), contact=lead)

        # When the worker runs the job
        process_due_jobs()

        # Then the job is pushed back 30 s and the channel shows the error
        job = Job.objects.get()
        assert (job.status, job.attempts, job.due_at) == (Job.Status.QUEUED, 1, clock.now() + timedelta(seconds=30))
        assert job.last_error == 'WebhookFailed: Zalo relay: HTTP 500: {"error": "relay is down"}'
        relay.refresh_from_db()
        assert (relay.last_status, relay.last_error, relay.last_sent_at) == (
            500, 'HTTP 500: {"error": "relay is down"}', None)  # fmt: skip
        # And it is not tried again before it is due
        assert process_due_jobs() is False
        assert len(endpoint.received) == 1

    # When the endpoint recovers and the back-off has passed
    endpoint.status = 204
    with time_machine.travel("2026-03-02 09:00:31 +07:00", tick=False):
        assert process_due_jobs() is True
        # Then the same notice is delivered (same id) and the channel is healthy again
        assert len(endpoint.received) == 2
        assert json.loads(endpoint.received[0].body)["id"] == json.loads(endpoint.received[1].body)["id"]
        job.refresh_from_db()
        relay.refresh_from_db()
        assert (job.status, job.attempts) == (Job.Status.DONE, 2)
        assert (relay.last_status, relay.last_error, relay.last_sent_at) == (204, "", clock.now())


def test_an_unreachable_endpoint_and_a_redirect_are_errors(endpoint: Endpoint, alice: User) -> None:
    # Given a channel on a closed port, and an endpoint that redirects elsewhere
    closed = channel(f"http://127.0.0.1:{free_port()}/hook")
    endpoint.status, endpoint.headers = 302, {"Location": "http://example.com/"}
    moved = channel(endpoint.url)
    notify(alice, kind="info", title="Chào")
    # When the jobs run
    process_due_jobs()
    # Then both are recorded as failures to retry, the redirect not followed
    closed.refresh_from_db()
    moved.refresh_from_db()
    assert (closed.last_status, closed.last_error) == (None, "ConnectionRefusedError: [Errno 111] Connection refused")
    assert (moved.last_status, moved.last_error[:8]) == (302, "HTTP 302")
    assert len(endpoint.received) == 1
    assert list(Job.objects.values_list("status", "attempts")) == [(Job.Status.QUEUED, 1)] * 2


def test_a_channel_switched_off_or_deleted_after_queueing_gets_nothing(endpoint: Endpoint, alice: User) -> None:
    # Given two channels with a queued notice each, then one switched off and the other deleted
    off, gone = channel(endpoint.url), channel(endpoint.url)
    notify(alice, kind="info", title="Chào")
    actions.save_channel(off, {"is_active": False}, actor=None)
    actions.delete_channel(gone, actor=None)
    # When the jobs run, then nothing is posted and the jobs are done
    process_due_jobs()
    assert endpoint.received == []
    assert list(Job.objects.values_list("status", flat=True)) == [Job.Status.DONE] * 2


def test_send_test_posts_once_to_that_channel(endpoint: Endpoint, admin_user: User) -> None:
    # Given a channel that takes only SLA breaches and a failing one
    relay = channel(endpoint.url, kinds=["sla_breach"])
    # When a test is sent
    actions.send_test(relay, actor=admin_user)
    process_due_jobs()
    # Then it arrives, signed, whatever kinds the channel takes
    [request] = endpoint.received
    body = json.loads(request.body)
    assert request.signed_with(SECRET)
    assert (body["kind"], body["test"], body["title"]) == ("info", True, "Thử từ Nurture")
    assert body["body"] == "Quản Trị đã gửi thử tới kênh “Zalo relay”."
    # And a failing test is tried once, its error shown on the channel
    endpoint.status = 404
    actions.send_test(relay, actor=admin_user)
    process_due_jobs()
    relay.refresh_from_db()
    assert (relay.last_status, relay.last_error[:8]) == (404, "HTTP 404")
    assert Job.objects.filter(status=Job.Status.FAILED).count() == 1
