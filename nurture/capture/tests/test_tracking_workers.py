"""Several workers against one PostgreSQL share the staged events: each recorded once, none lost."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from nurture.capture import tracking
from nurture.capture.models import StagedEvent
from nurture.capture.tests.conftest import SITE
from nurture.contacts.models import Contact, Event
from nurture.core import clock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several workers need PostgreSQL (SKIP LOCKED)"),
]


def test_two_workers_record_every_staged_event_once(db: Any) -> None:
    # Given 60 visitors' 10 page views each, staged; the same visitors come back in later batches
    now = clock.now()
    rows = [
        StagedEvent(kind="page", anonymous_id=f"visitor-{v:03d}-workers-test", origin=SITE, at=now, received_at=now,
                    payload={"url": f"{SITE}/p{i}", "title": f"P{i}"})
        for i in range(10) for v in range(60)
    ]  # fmt: skip
    StagedEvent.objects.bulk_create(rows)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while tracking.process_staged_events(limit=50):
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    # When two workers drain them at the same time
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every view is on a timeline exactly once, each visitor is one contact, and nothing is left
    assert errors == []
    assert Event.objects.filter(type=Event.Type.PAGE_VIEWED).count() == 600
    assert Contact.objects.count() == 60
    assert len(set(Event.objects.values_list("contact_id", "data__url"))) == 600
    assert StagedEvent.objects.count() == 0
