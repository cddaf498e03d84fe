"""The engine's batching (bulk work, few queries), its limits, the worker step, and test mode."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from nurture.contacts.models import Contact
from nurture.core import worker
from nurture.journeys import actions
from nurture.journeys.engine import ROUNDS, run_due
from nurture.journeys.models import Enrolment, StepRun
from nurture.journeys.testmode import dry_run
from nurture.journeys.tests.conftest import START, capture, drain, journey
from nurture.messaging.actions import save_template
from nurture.messaging.models import Message

pytestmark = pytest.mark.django_db
STEPS = (
    ("hn", {"type": "branch", "condition": {"field": "province", "op": "eq", "value": "Hà Nội"},
            "yes": "ab", "no": "ab"}),
    ("ab", {"type": "split", "arms": [{"name": "A", "percent": 50, "next": "t"},
                                      {"name": "B", "percent": 50, "next": "t"}]}),
    ("t", {"type": "add_tag", "tag": "nurtured"}),
    ("u", {"type": "remove_tag", "tag": "cold"}),
    ("w", {"type": "wait", "days": 1}),
)  # fmt: skip


def contacts(n: int) -> list[int]:
    stage = capture().stage_id
    rows = Contact.objects.bulk_create(
        Contact(full_name=f"Khách {i}", stage_id=stage, created_at=START, updated_at=START, last_activity_at=START)
        for i in range(n)
    )
    return [c.pk for c in rows]


def test_a_batch_runs_its_steps_in_a_bounded_number_of_queries(frozen: Any) -> None:
    # Given 300 contacts enrolled in a 5-step journey
    j = journey(*STEPS)
    actions.enrol(j, contacts(300))
    # When one batch takes them all as far as the wait
    with CaptureQueriesContext(connection) as queries:
        assert run_due(500) == 300
    # Then every step ran once per contact, in a number of queries that does not grow with the batch
    assert StepRun.objects.count() == 4 * 300
    assert Enrolment.objects.filter(status="waiting", step="w").count() == 300
    assert len(queries) < 80, [q["sql"][:120] for q in queries.captured_queries]


def test_batches_take_the_limit_and_the_rest_waits_for_the_next(frozen: Any) -> None:
    j = journey(("t", {"type": "add_tag", "tag": "x"}))
    actions.enrol(j, contacts(25))
    assert [run_due(10), run_due(10), run_due(10), run_due(10)] == [10, 10, 5, 0]
    assert Enrolment.objects.filter(status="completed").count() == 25


def test_split_arms_spread_over_many_enrolments(frozen: Any) -> None:
    j = journey(("ab", {"type": "split", "arms": [{"name": "A", "percent": 70, "next": "a"},
                                                  {"name": "B", "percent": 30, "next": "b"}]}),
                ("a", {"type": "exit"}), ("b", {"type": "exit"}))  # fmt: skip
    actions.enrol(j, contacts(1000))
    drain()
    arms = dict(StepRun.objects.filter(step="ab").values_list("outcome").annotate(n=Count("pk")))
    assert 640 <= arms["A"] <= 760 and arms["A"] + arms["B"] == 1000


def test_a_long_walk_goes_on_in_the_next_batch(frozen: Any) -> None:
    steps = [(f"s{i}", {"type": "add_tag" if i % 2 else "remove_tag", "tag": "x"}) for i in range(ROUNDS + 5)]
    j = journey(*steps)
    e = actions.enrol(j, [capture().pk])[0]
    run_due()
    e.refresh_from_db()
    assert (e.status, e.step, StepRun.objects.count()) == ("active", f"s{ROUNDS}", ROUNDS)
    drain()
    e.refresh_from_db()
    assert e.status == "completed" and StepRun.objects.count() == ROUNDS + 5


def test_the_worker_step_runs_due_enrolments(frozen: Any) -> None:
    j = journey(("t", {"type": "add_tag", "tag": "x"}))
    contact = capture()
    actions.enrol(j, [contact.pk])
    assert worker.step() is True
    assert list(contact.tags.values_list("name", flat=True)) == ["x"]


def test_test_mode_walks_the_draft_and_changes_nothing(frozen: Any) -> None:
    # Given a draft that emails, waits two days, branches on the province and tags
    template = save_template(None, {"name": "T", "channel": "email", "subject": "Chào {{ greeting }}",
                                    "body": "Nội dung cho {{ given_name }}"}).pk  # fmt: skip
    j = journey(("mail", {"type": "send_email", "template": template}), ("w", {"type": "wait", "days": 2}),
                ("hn", {"type": "branch", "condition": {"field": "province", "op": "eq", "value": "Hà Nội"},
                        "yes": "tag", "no": "bye"}),
                ("tag", {"type": "add_tag", "tag": "HN"}), ("bye", {"type": "exit", "reason": "ngoài HN"}),
                publish=False)  # fmt: skip
    contact = capture(full_name="Hoàng Văn Nam", gender="male", province="Hà Nội")
    before = (Message.objects.count(), Enrolment.objects.count(), StepRun.objects.count(), contact.tags.count())
    # When it is walked in test mode
    walk = dry_run(j, contact)
    # Then the path, the times past the wait and the rendered message are shown
    assert [(s.step, s.outcome) for s in walk.stops] == [("mail", "queued"), ("w", "waited"), ("hn", "yes"),
                                                         ("tag", "done"), ("bye", "exit")]  # fmt: skip
    assert walk.stops[1].at == START + timedelta(days=2)
    assert walk.stops[0].message == {"channel": "email", "subject": "Chào anh Nam", "body": "Nội dung cho Nam",
                                     "status": "queued", "reason": ""}  # fmt: skip
    assert (walk.status, walk.reason) == ("completed", "ngoài HN")
    # And nothing was written
    assert (Message.objects.count(), Enrolment.objects.count(), StepRun.objects.count(), contact.tags.count()) == before


def test_test_mode_takes_the_event_path_when_asked(frozen: Any) -> None:
    j = journey(("ev", {"type": "wait_event", "event": "order_placed", "timeout": {"days": 3}, "timeout_next": "late"}),
                ("ok", {"type": "exit", "reason": "mua"}), ("late", {"type": "exit", "reason": "chưa mua"}),
                publish=False)  # fmt: skip
    contact = capture()
    assert dry_run(j, contact, events_happen=True).reason == "mua"
    assert dry_run(j, contact).reason == "chưa mua"
