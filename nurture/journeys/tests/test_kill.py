"""Two real worker processes killed with SIGKILL again and again while they walk enrolments (PostgreSQL):
every enrolment still finishes, and no step run or message exists twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.models import Count

from nurture.contacts.models import Consent, Contact
from nurture.core import clock
from nurture.journeys import actions
from nurture.journeys.models import Enrolment, StepRun
from nurture.journeys.tests.conftest import capture, journey
from nurture.messaging.actions import save_template
from nurture.messaging.models import Message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several workers need PostgreSQL (SKIP LOCKED)"),
]
CONTACTS = 1000
DEADLINE = 300  # seconds


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "nurture.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def test_workers_killed_with_sigkill_lose_nothing_and_repeat_nothing() -> None:
    # Given 1,000 contacts (who consented to email) on a 5-step journey that emails, tags, branches and splits
    template = save_template(None, {"name": "Kill", "channel": "email", "subject": "Chào {{ greeting }}",
                                    "body": "Xin chào"}).pk  # fmt: skip
    j = journey(
        ("mail", {"type": "send_email", "template": template}), ("tag", {"type": "add_tag", "tag": "k"}),
        ("hn", {"type": "branch", "condition": {"field": "province", "op": "eq", "value": "Hà Nội"},
                "yes": "ab", "no": "ab"}),
        ("ab", {"type": "split", "arms": [{"name": "A", "percent": 50, "next": "end"},
                                          {"name": "B", "percent": 50, "next": "end"}]}),
        ("end", {"type": "exit"}),
    )  # fmt: skip
    stage = capture().stage_id
    now = clock.now()
    rows = Contact.objects.bulk_create(
        Contact(full_name=f"Khách {i}", email=f"k{i}@example.vn", stage_id=stage, created_at=now, updated_at=now,
                last_activity_at=now)
        for i in range(CONTACTS)
    )  # fmt: skip
    Consent.objects.bulk_create(Consent(contact=c, channel="email", granted=True, at=now) for c in rows)
    actions.enrol(j, [c.pk for c in rows])
    settings = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
                                         f"{settings['NAME']}", "NURTURE_WORKER_POLL_SECONDS": "0",
           # Small batches, so that kills land inside batches and between them.
           "NURTURE_JOURNEY_BATCH": "50"}  # fmt: skip
    # When two workers go through them, one of them killed with SIGKILL every 0.5 to 2.5 seconds
    rng = random.Random(7)
    workers = [_worker(env), _worker(env)]
    kills = 0
    started = time.monotonic()
    try:
        while Enrolment.objects.filter(status__in=Enrolment.OPEN).exists():
            assert time.monotonic() - started < DEADLINE, "the workers did not finish in time"
            time.sleep(rng.uniform(0.5, 2.5))
            victim = rng.randrange(2)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = _worker(env)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    # Then every enrolment finished, each step ran once per contact, and each contact got one email
    assert kills >= 3
    assert Enrolment.objects.filter(journey=j, status="completed").count() == CONTACTS
    assert StepRun.objects.filter(journey=j).count() == CONTACTS * 5
    assert not StepRun.objects.values("enrolment", "step").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert Message.objects.filter(origin=f"journey:{j.pk}").count() == CONTACTS
    assert not Message.objects.values("contact", "template").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert Contact.tags.through.objects.filter(tag__name="k").count() == CONTACTS
