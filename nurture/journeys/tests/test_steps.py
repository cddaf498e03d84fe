"""Every step type, run by the engine on contacts captured through the real capture."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nurture.accounts.models import User
from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.models import Consent, Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.journeys.engine import WEBHOOK_JOB, run_due
from nurture.journeys.models import Enrolment, StepRun
from nurture.journeys.tests.conftest import START, capture, drain, journey
from nurture.lifecycle.models import StageChange
from nurture.messaging.actions import save_template
from nurture.messaging.models import Message
from nurture.notifications.models import Notification
from nurture.scoring.actions import save_rule

pytestmark = pytest.mark.django_db


def enrolled(j: Any, contact: Contact) -> Enrolment:
    from nurture.journeys.actions import enrol

    return enrol(j, [contact.pk])[0]


def runs(e: Enrolment) -> list[tuple[str, str]]:
    return list(StepRun.objects.filter(enrolment=e).order_by("at", "pk").values_list("step", "outcome"))


def email_template(**fields: Any) -> int:
    data = {"name": "Chào mừng", "channel": "email", "subject": "Chào {{ greeting }}, chào mừng!",
            "body": "Cảm ơn {{ greeting }} đã quan tâm. Hủy đăng ký: {{ unsubscribe_url }}", **fields}  # fmt: skip
    return save_template(None, data).pk


def test_send_email_then_sms_sends_each_once_with_the_step_key(frozen: Any) -> None:
    # Given a journey that emails then texts, and a contact who consented to both
    sms = save_template(None, {"name": "Nhắc", "channel": "sms", "body": "{{ greeting }}: ưu đãi học thử 0đ"}).pk
    j = journey(("welcome", {"type": "send_email", "template": email_template()}),
                ("remind", {"type": "send_sms", "template": sms}))  # fmt: skip
    contact = capture(full_name="Trần Thị Lan", gender="female")
    e = enrolled(j, contact)
    # When the worker runs, twice
    drain()
    drain()
    # Then each message exists once, keyed by enrolment, step and visit, and the enrolment completed
    messages = Message.objects.order_by("pk")
    assert [(m.channel, m.idempotency_key, m.status) for m in messages] == [
        ("email", f"journey:{e.pk}:welcome:1", "queued"), ("sms", f"journey:{e.pk}:remind:1", "queued"),
    ]  # fmt: skip
    assert messages[0].subject == "Chào chị Lan, chào mừng!"
    assert messages[0].origin == f"journey:{j.pk}"
    assert runs(e) == [("welcome", "queued"), ("remind", "queued")]
    e.refresh_from_db()
    assert (e.status, e.next_due_at, e.finished_at) == ("completed", None, START)


def test_a_refused_message_is_recorded_and_the_journey_goes_on(frozen: Any) -> None:
    # Given a contact who never consented to SMS
    sms = save_template(None, {"name": "Nhắc", "channel": "sms", "body": "Xin chào"}).pk
    j = journey(("remind", {"type": "send_sms", "template": sms}), ("tag", {"type": "add_tag", "tag": "đã nhắc"}))
    contact = capture(consent=False)
    e = enrolled(j, contact)
    # When it runs
    drain()
    # Then the refusal is the step's outcome, with the message and its reason
    run = StepRun.objects.get(enrolment=e, step="remind")
    message = Message.objects.get()
    assert (run.outcome, run.detail) == (
        "refused",
        {"message": message.pk, "status": "refused", "reason": "no_consent"},
    )
    assert list(contact.tags.values_list("name", flat=True)) == ["đã nhắc"]


def test_zalo_falls_back_to_sms(frozen: Any) -> None:
    # Given a Zalo step with SMS fallback and a contact with no Zalo interaction
    zalo = save_template(None, {"name": "Zalo", "channel": "zalo", "body": "Chào {{ given_name }}",
                                "sms_body": "SMS cho {{ given_name }}"}).pk  # fmt: skip
    j = journey(("z", {"type": "send_zalo", "template": zalo, "fallback": "sms"}))
    contact = capture(full_name="Lê Văn Minh")
    Consent.objects.create(contact=contact, channel="zalo", granted=True, source="form", at=START)
    e = enrolled(j, contact)
    # When it runs
    drain()
    # Then an SMS went instead, under the step's key
    message = Message.objects.get(idempotency_key=f"journey:{e.pk}:z:1")
    assert (message.channel, message.body, message.status) == ("sms", "SMS cho Minh", "queued")


def test_quiet_hours_hold_the_step_until_morning() -> None:
    # Given a journey respecting quiet hours, at 22:00 (SMS quiet 21:00-08:00)
    with time_machine.travel("2026-03-02T22:00:00+07:00", tick=False) as t:
        sms = save_template(None, {"name": "Nhắc", "channel": "sms", "body": "Xin chào"}).pk
        j = journey(("remind", {"type": "send_sms", "template": sms}), ("wait", {"type": "wait", "hours": 2}))
        e = enrolled(j, capture())
        # When the worker runs at night
        drain()
        # Then nothing is sent; the enrolment waits at the step until 08:00
        e.refresh_from_db()
        assert (Message.objects.count(), e.step, e.status) == (0, "remind", "active")
        assert e.next_due_at == datetime.fromisoformat("2026-03-03T08:00:00+07:00")
        # And at 08:00 it sends, and the wait after it counts from then
        t.move_to("2026-03-03T08:00:00+07:00")
        drain()
        e.refresh_from_db()
        assert Message.objects.get().status == "queued"
        assert (e.step, e.status, e.next_due_at) == (
            "wait",
            "waiting",
            datetime.fromisoformat("2026-03-03T10:00+07:00"),
        )


def test_notify_owner_and_call_task(frozen: Any, alice: User) -> None:
    # Given a contact owned by alice and a journey that notifies her and gives her a call task
    j = journey(("tell", {"type": "notify_owner", "title": "Khách vừa tải báo giá"}),
                ("call", {"type": "call_task", "script": "Hỏi nhu cầu, mời học thử."}))  # fmt: skip
    contact = capture()
    Contact.objects.filter(pk=contact.pk).update(owner=alice)
    e = enrolled(j, contact)
    # When it runs
    drain()
    # Then alice has a notice and a task, and the timeline shows the task
    notices = Notification.objects.filter(user=alice).order_by("pk")
    assert [(n.kind, n.key) for n in notices] == [
        ("info", f"journey:{e.pk}:tell:1"),
        ("task", f"journey:{e.pk}:call:1"),
    ]
    assert notices[1].body == "Hỏi nhu cầu, mời học thử."
    task = Event.objects.get(contact=contact, type=Event.Type.TASK_CREATED)
    assert task.data["script"] == "Hỏi nhu cầu, mời học thử." and task.data["owner_id"] == alice.pk


def test_owner_steps_skip_a_contact_without_owner(frozen: Any) -> None:
    j = journey(("call", {"type": "call_task", "script": "Gọi"}))
    e = enrolled(j, capture())
    drain()
    assert runs(e) == [("call", "skipped")]
    assert Notification.objects.count() == 0


def test_update_field_tags_stage_and_points(frozen: Any) -> None:
    # Given a points rule for the journey's reward event, and a journey changing the contact
    save_rule(None, {"name": "Thưởng hành trình", "kind": "behaviour", "event_type": "journey_reward", "points": 20},
              actor=None)  # fmt: skip
    j = journey(
        ("need", {"type": "update_field", "field": "need", "value": "IELTS 6.5"}),
        ("due", {"type": "update_field", "field": "custom.repurchase_due", "value": "2026-06-01"}),
        ("tag", {"type": "add_tag", "tag": "webinar"}), ("untag", {"type": "remove_tag", "tag": "lạnh"}),
        ("mql", {"type": "change_stage", "stage": "mql"}),
        ("reward", {"type": "add_points", "event": "journey_reward"}),
    )  # fmt: skip
    contact = capture(tags=["lạnh"])
    e = enrolled(j, contact)
    # When it runs
    drain()
    # Then every change is made through the contacts, lifecycle and scoring actions
    contact.refresh_from_db()
    assert contact.need == "IELTS 6.5"
    assert contact.custom_fields["repurchase_due"] == "2026-06-01"
    assert list(contact.tags.values_list("name", flat=True)) == ["webinar"]
    assert contact.stage.key == "mql"
    assert StageChange.objects.get(contact=contact, to_stage__key="mql").cause == "journey"
    assert contact.score >= 20
    assert Event.objects.filter(contact=contact, type="journey_reward").count() == 1
    assert [s for s, _ in runs(e)] == ["need", "due", "tag", "untag", "mql", "reward"]


def test_assign_to_a_named_rep(frozen: Any, bob: User) -> None:
    j = journey(("give", {"type": "assign", "user": "bob"}))
    contact = capture()
    drain_after = enrolled(j, contact)
    drain()
    contact.refresh_from_db()
    assert contact.owner == bob
    assert runs(drain_after) == [("give", "done")]


def test_webhook_is_a_durable_job_keyed_by_step(frozen: Any) -> None:
    j = journey(("hook", {"type": "webhook", "url": "http://127.0.0.1:9/crm"}))
    e = enrolled(j, capture())
    drain()
    job = Job.objects.get(kind=WEBHOOK_JOB)
    assert job.idempotency_key == f"journey:{e.pk}:hook:1"
    assert job.payload["url"] == "http://127.0.0.1:9/crm" and job.payload["enrolment_id"] == e.pk


def test_the_webhook_job_posts_the_contact_to_a_loopback_server(frozen: Any) -> None:
    # Given a receiver on loopback and a journey calling it
    received: list[tuple[dict[str, Any], str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers["Idempotency-Key"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        j = journey(("hook", {"type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/crm"}))
        contact = capture(full_name="Bùi Thị Mai")
        e = enrolled(j, contact)
        drain()
        # When the worker runs the job
        assert process_due_jobs() is True
    finally:
        server.shutdown()
    # Then the receiver got the step's JSON once, with the step's key
    (body, key), *more = received
    assert more == [] and key == f"journey:{e.pk}:hook:1"
    assert (body["journey"], body["step"], body["contact"]["name"]) == (
        {"id": j.pk, "name": j.name},
        "hook",
        "Bùi Thị Mai",
    )
    assert Job.objects.get(kind=WEBHOOK_JOB).status == "done"


def test_enrol_in_another_journey(frozen: Any) -> None:
    other = journey(("t", {"type": "add_tag", "tag": "khách hàng"}), name="Chăm sóc sau mua")
    j = journey(("move", {"type": "enrol", "journey": other.pk}))
    contact = capture()
    enrolled(j, contact)
    drain()
    assert list(Enrolment.objects.filter(contact=contact).values_list("journey_id", "status").order_by("pk")) == [
        (j.pk, "completed"), (other.pk, "completed"),
    ]  # fmt: skip


def test_wait_and_wait_until(frozen: Any) -> None:
    # Given wait 2 days, then wait until Friday 09:00 (contact's zone), then a tag
    j = journey(("w", {"type": "wait", "days": 2}), ("fri", {"type": "wait_until", "weekday": 4, "time": "09:00"}),
                ("t", {"type": "add_tag", "tag": "done"}))  # fmt: skip
    e = enrolled(j, capture())
    drain()
    e.refresh_from_db()
    assert (e.step, e.status, e.next_due_at) == ("w", "waiting", START + timedelta(days=2))
    # When two days pass
    frozen.move_to(START + timedelta(days=2))
    drain()
    e.refresh_from_db()
    assert (e.step, e.next_due_at) == ("fri", datetime.fromisoformat("2026-03-06T09:00:00+07:00"))
    frozen.move_to("2026-03-06T09:00:00+07:00")
    drain()
    e.refresh_from_db()
    assert e.status == "completed"
    assert [s for s, _ in runs(e)] == ["w", "fri", "t"]


def test_wait_until_reads_the_contact_time_zone(frozen: Any) -> None:
    j = journey(("at", {"type": "wait_until", "time": "09:00"}))
    contact = capture(custom_fields={"time_zone": "Asia/Tokyo"})
    e = enrolled(j, contact)
    drain()
    e.refresh_from_db()
    assert e.next_due_at == datetime.fromisoformat("2026-03-03T09:00:00+09:00")  # 09:00 in Tokyo the next day


def test_wait_event_wakes_on_the_event_or_times_out(frozen: Any) -> None:
    # Given two contacts waiting 3 days for a webinar attendance of the right webinar
    j = journey(
        ("attend", {"type": "wait_event", "event": "webinar_attended", "timeout": {"days": 3},
                    "where": [{"field": "data.webinar", "op": "eq", "value": "ielts"}], "timeout_next": "late"}),
        ("thanks", {"type": "add_tag", "tag": "đã dự"}, ), ("end", {"type": "exit"}),
        ("late", {"type": "add_tag", "tag": "vắng"}),
    )  # fmt: skip
    came, missed = capture(), capture()
    e1, e2 = enrolled(j, came), enrolled(j, missed)
    drain()
    # When one attends the right webinar (and the other a different one)
    frozen.move_to(START + timedelta(hours=5))
    record_events([EventInput(came.pk, "webinar_attended", data={"webinar": "ielts"}),
                   EventInput(missed.pk, "webinar_attended", data={"webinar": "toeic"})])  # fmt: skip
    drain()
    # Then the first goes on at once; the other times out after 3 days onto the timeout path
    e1.refresh_from_db()
    e2.refresh_from_db()
    assert runs(e1)[0][1] == "event" and e1.status == "completed"
    assert e2.status == "waiting"
    frozen.move_to(START + timedelta(days=3))
    drain()
    e2.refresh_from_db()
    assert runs(e2) == [("attend", "timeout"), ("late", "done")]
    assert list(missed.tags.values_list("name", flat=True)) == ["vắng"]


def test_a_capture_wakes_its_known_contact_and_does_not_look_for_new_ones(frozen: Any) -> None:
    # Given a contact waiting for a second form
    j = journey(("again", {"type": "wait_event", "event": "form_submitted", "timeout": {"days": 3}}),
                ("tag", {"type": "add_tag", "tag": "quay lại"}))  # fmt: skip
    known = capture()
    e = enrolled(j, known)
    drain()
    # When a new person submits the form, then no query looks for their waiting enrolments
    with CaptureQueriesContext(connection) as queries:
        capture()
    assert not [q for q in queries.captured_queries if 'FROM "journeys_enrolment"' in q["sql"]]
    # When the known contact submits it again, then the capture wakes them and the engine goes on
    capture(full_name=known.full_name, phone=known.phone)
    drain()
    e.refresh_from_db()
    assert runs(e) == [("again", "event"), ("tag", "done")]


def test_branch_takes_yes_or_no_by_the_condition(frozen: Any) -> None:
    j = journey(
        ("hanoi", {"type": "branch", "condition": {"field": "province", "op": "eq", "value": "Hà Nội"},
                  "yes": "hn", "no": "other"}),
        ("hn", {"type": "add_tag", "tag": "HN"}), ("stop", {"type": "exit", "reason": "đã phân loại"}),
        ("other", {"type": "add_tag", "tag": "khác"}),
    )  # fmt: skip
    hanoi, saigon = capture(province="Hà Nội"), capture(province="Hồ Chí Minh")
    e1, e2 = enrolled(j, hanoi), enrolled(j, saigon)
    drain()
    e1.refresh_from_db()
    assert runs(e1) == [("hanoi", "yes"), ("hn", "done"), ("stop", "exit")]
    assert (e1.status, e1.exit_reason) == ("completed", "đã phân loại")
    assert runs(e2) == [("hanoi", "no"), ("other", "done")]


def test_goal_converts_before_the_next_step(frozen: Any) -> None:
    # Given a journey whose goal is becoming a customer, with a wait in the middle
    j = journey(("w", {"type": "wait", "days": 1}), ("t", {"type": "add_tag", "tag": "x"}),
                goal={"field": "stage", "op": "eq", "value": "customer"})  # fmt: skip
    contact = capture()
    e = enrolled(j, contact)
    drain()
    # When the contact buys during the wait (the stage move converts it at once, wherever it is)
    from nurture.contacts.actions import change_stage
    from nurture.lifecycle.models import Stage

    change_stage(contact, to_stage=Stage.objects.get(stage_set__is_active=True, key="customer"), cause="user")
    e.refresh_from_db()
    # Then it converted where it was, and no later step ran
    assert (e.status, e.step, e.exit_reason) == ("converted", "w", "goal reached")
    frozen.move_to(START + timedelta(days=2))
    assert run_due() == 0
    assert runs(e) == []


def test_a_failing_step_is_retried_then_failed_without_stopping_the_others(frozen: Any, monkeypatch: Any) -> None:
    # Given two contacts, and a tag step that fails for one of them
    j = journey(("t", {"type": "add_tag", "tag": "x"}))
    good, bad = capture(), capture()
    import nurture.contacts.actions as contact_actions

    real = contact_actions.tag_contacts

    def flaky(ids: list[int], **kw: Any) -> list[int]:
        if bad.pk in ids:
            raise RuntimeError("provider down")
        return real(ids, **kw)

    monkeypatch.setattr(contact_actions, "tag_contacts", flaky)
    e_good, e_bad = enrolled(j, good), enrolled(j, bad)
    # When the worker runs
    drain()
    # Then the good one went on; the bad one is pushed back with its error
    e_good.refresh_from_db()
    e_bad.refresh_from_db()
    assert e_good.status == "completed"
    assert (e_bad.status, e_bad.attempts, e_bad.last_error) == ("active", 1, "RuntimeError: provider down")
    assert e_bad.next_due_at == START + timedelta(minutes=1)
    # And after five tries it is failed, visible with its error
    for minutes in (1, 3, 7, 15):
        frozen.move_to(START + timedelta(minutes=minutes))
        drain()
    e_bad.refresh_from_db()
    assert (e_bad.status, e_bad.attempts, e_bad.exit_reason) == ("failed", 5, "failed at step t")
    assert StepRun.objects.filter(enrolment=e_bad).count() == 0
