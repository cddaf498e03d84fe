"""Journeys are built from (step id, step) pairs; contacts come in through the real capture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import count
from typing import Any

import pytest
import time_machine
from django.utils import translation

from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Consent, Contact, Event
from nurture.core import clock
from nurture.journeys import actions
from nurture.journeys.engine import run_due
from nurture.journeys.models import Journey

# A Monday at 10:00 in Vietnam: inside every channel's sending hours.
START = datetime.fromisoformat("2026-03-02T10:00:00+07:00")
_numbers = count(1)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """The assertions read the English texts; pages and messages are in Vietnamese by default."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def frozen() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def graph(*steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"order": [s for s, _ in steps], "steps": dict(steps)}


def journey(*steps: tuple[str, dict[str, Any]], publish: bool = True, **fields: Any) -> Journey:
    data = {"name": fields.pop("name", "Chăm sóc lead mới"), "graph": graph(*steps), **fields}
    made = actions.save_journey(None, data, actor=None)
    if publish:
        actions.publish(made, actor=None)
    return made


def capture(event_type: str = Event.Type.FORM_SUBMITTED, consent: bool = True, **fields: Any) -> Contact:
    n = next(_numbers)
    fields.setdefault("full_name", f"Nguyễn Văn Khách {n}")
    fields.setdefault("phone", f"09{n:08d}")
    fields.setdefault("email", f"khach{n}@example.vn")
    result = capture_leads([parse_lead(fields)], event_type=event_type, source_label="website")[0]
    contact = Contact.objects.select_related("owner").get(pk=result.contact_id)
    if consent:
        Consent.objects.bulk_create(
            Consent(contact=contact, channel=ch, granted=True, source="form", at=clock.now()) for ch in ("email", "sms")
        )
    return contact


def drain(limit: int = 500) -> int:
    """Run the engine until nothing is due; returns the batches it took."""
    batches = 0
    while run_due(limit):
        batches += 1
    return batches
