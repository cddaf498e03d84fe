"""The ready-made journeys install with their Vietnamese templates, and walk as the seeds describe."""

from __future__ import annotations

from typing import Any

import pytest

from nurture.contacts.actions import EventInput, record_events
from nurture.journeys import actions, library
from nurture.journeys.models import Enrolment, Journey, StepRun
from nurture.journeys.tests.conftest import capture, drain
from nurture.messaging.models import Message, Template
from nurture.scoring.models import PointsRule

pytestmark = pytest.mark.django_db


def test_every_ready_journey_installs_as_a_valid_draft() -> None:
    # When each is installed (twice: templates are reused, not duplicated)
    for _ in range(2):
        for ready in library.READY:
            library.install(ready.key, actor=None)
    # Then each is a draft whose graph is valid, and its templates exist once each
    journeys = Journey.objects.filter(template_key__in=library.BY_KEY)
    assert journeys.count() == 2 * len(library.READY)
    assert all(j.status == "draft" and actions.check_graph(j.graph) == [] for j in journeys)
    assert Template.objects.filter(name__startswith="[Mẫu]").count() == len(library.MESSAGES)
    assert PointsRule.objects.filter(event_type=library.REWARD_EVENT, points=20).count() == 1


def test_the_nps_journey_thanks_promoters(frozen: Any) -> None:
    # Given the NPS journey, published, and a customer who orders
    journey = library.install("nps", actor=None)
    actions.publish(journey, actor=None)
    contact = capture(full_name="Đỗ Minh Anh")
    record_events([EventInput(contact.pk, "order_placed", data={"order": "A1"})])
    enrolment = Enrolment.objects.get(journey=journey)
    drain()
    # When two weeks pass, the survey goes, and the customer answers 10
    from datetime import timedelta

    from nurture.journeys.tests.conftest import START

    frozen.move_to(START + timedelta(days=14))
    drain()
    record_events([EventInput(contact.pk, "survey_answered", data={"score": 10})])
    drain()
    # Then the walk is survey -> promoter -> thanks -> points -> referral, and the contact was rewarded
    steps = list(StepRun.objects.filter(enrolment=enrolment).values_list("step", "outcome"))
    assert steps == [("w1", "waited"), ("survey", "queued"), ("answer", "event"), ("promoter", "yes"),
                     ("thanks", "queued"), ("points", "done"), ("referral", "refused"), ("end", "exit")]  # fmt: skip
    contact.refresh_from_db()
    assert contact.score >= library.REWARD_POINTS
    assert Message.objects.filter(contact=contact, channel="email").count() == 2
