"""Test mode: walk one contact through a journey's draft with the clock moved past every wait, and show the
path and what would be sent, changing nothing.

It runs the real engine, so what it shows is what would happen: inside one transaction that is always rolled
back, a throw-away version of the draft, an enrolment, and the engine's own steps (messages rendered and
refused exactly as messaging would). Nothing outside the database is touched before a commit (messages,
notices and webhooks all go out from jobs), so the rollback undoes everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.journeys import graph as graphs
from nurture.journeys.actions import JourneyError, check_graph
from nurture.journeys.engine import ROUNDS, Runner
from nurture.journeys.models import Enrolment, Journey, JourneyVersion, StepRun


@dataclass
class Stop:
    at: datetime
    step: str
    type: str
    outcome: str
    detail: dict[str, Any]
    message: dict[str, str] | None = None


@dataclass
class Walk:
    stops: list[Stop] = field(default_factory=list)
    status: str = ""
    reason: str = ""  # how it ended, or why it stopped (waits for an event with no timeout)


class _Rollback(Exception):
    pass


def dry_run(journey: Journey, contact: Contact, *, events_happen: bool = False) -> Walk:
    """The walk of `contact` through the draft graph. `events_happen`: a wait for an event sees it at once
    (else it times out)."""
    from nurture.messaging.models import Message

    problems = check_graph(journey.graph)
    start = graphs.start_of(journey.graph)
    if problems or start is None:
        raise JourneyError("graph", "; ".join(map(str, problems)) or "add at least one step", problems)
    walk = Walk()
    try:
        with transaction.atomic():
            now = clock.now()
            version = JourneyVersion.objects.create(journey=journey, number=0, graph=journey.graph, created_at=now)
            enrolment = Enrolment.objects.create(
                journey=journey, version=version, contact=contact, step=start,
                next_due_at=now, entered_at=now, data={"source": "test"},
            )  # fmt: skip
            offset = timedelta(0)
            for _attempt in range(ROUNDS):
                with clock.ahead(offset):
                    Runner([enrolment], Contact.objects.select_related("owner").in_bulk([contact.pk])).run()
                if not enrolment.is_open:
                    walk.status, walk.reason = enrolment.status, enrolment.exit_reason
                    break
                if enrolment.wait_event and events_happen:
                    enrolment.woken_by = 0  # no real event: the path after it is what matters here
                elif enrolment.next_due_at is None:
                    walk.status, walk.reason = enrolment.status, "waits for the event, with no timeout"
                    break
                else:
                    offset = max(offset, enrolment.next_due_at - timezone.now())
            walk.status = walk.status or enrolment.status
            messages = {
                m.idempotency_key: m
                for m in Message.objects.filter(idempotency_key__startswith=f"journey:{enrolment.pk}:")
            }
            for run in StepRun.objects.filter(enrolment=enrolment).order_by("at", "pk"):
                message = messages.get(f"journey:{enrolment.pk}:{run.step}:{run.visit}")
                walk.stops.append(Stop(
                    at=run.at, step=run.step, type=journey.graph["steps"][run.step]["type"], outcome=run.outcome,
                    detail=run.detail,
                    message={"channel": message.channel, "subject": message.subject, "body": message.body,
                             "status": message.status, "reason": message.reason} if message else None,
                ))  # fmt: skip
            raise _Rollback
    except _Rollback:
        pass
    return walk
