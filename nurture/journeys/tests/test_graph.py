"""Graph validation names the step at fault; splits are deterministic and follow their percentages."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nurture.journeys import actions
from nurture.journeys import graph as graphs
from nurture.journeys.actions import JourneyError
from nurture.journeys.models import Journey
from nurture.journeys.tests.conftest import graph
from nurture.messaging.actions import save_template
from nurture.messaging.models import Template

pytestmark = pytest.mark.django_db


def problems(*steps: tuple[str, dict[str, Any]]) -> list[str]:
    return [str(p) for p in actions.check_graph(graph(*steps))]


def test_a_good_graph_has_no_problem() -> None:
    assert problems(("a", {"type": "add_tag", "tag": "x"}), ("w", {"type": "wait", "days": 1}),
                    ("b", {"type": "branch", "condition": {"field": "score", "op": "gte", "value": 50},
                           "yes": "a", "no": "c"}),
                    ("c", {"type": "exit"})) == []  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("a", {"type": "teleport"})], ["a.type: unknown step type 'teleport'"]),
        ([("a", {"type": "add_tag", "tag": "x", "next": "nowhere"})], ["a.next: missing target: no step 'nowhere'"]),
        (
            [("a", {"type": "branch", "condition": {"field": "score", "op": "gte", "value": 1}, "yes": "a"})],
            ["a.no: missing target: choose the step it goes to"],
        ),
        (
            [("a", {"type": "exit"}), ("orphan", {"type": "add_tag", "tag": "x"})],
            ["orphan.id: unreachable: no step leads here"],
        ),
        (
            [("a", {"type": "add_tag", "tag": "x"}), ("b", {"type": "remove_tag", "tag": "x", "next": "a"})],
            ["a.next: a loop without a wait step: add a wait on the way back"],
        ),
        (
            [("a", {"type": "branch", "condition": {"field": "nope", "op": "eq", "value": 1}, "yes": "a", "no": "a"})],
            ["a.condition: field: unknown field 'nope'"],
        ),
        (
            [
                (
                    "s",
                    {
                        "type": "split",
                        "arms": [{"name": "A", "percent": 60, "next": "x"}, {"name": "B", "percent": 30, "next": "x"}],
                    },
                ),
                ("x", {"type": "exit"}),
            ],
            ["s.arms: the percentages add up to 90.0, not 100"],
        ),
        ([("w", {"type": "wait"})], ["w.days: a duration above zero (days, hours or minutes)"]),
        (
            [("w", {"type": "wait_until", "weekday": 9, "time": "25:00"})],
            ["w.weekday: 0 (Monday) to 6 (Sunday), or empty", "w.time: HH:MM"],
        ),
        ([("s", {"type": "change_stage", "stage": "astronaut"})], ["s.stage: not a stage of the active set"]),
        ([("e", {"type": "send_email", "template": 999})], ["e.template: no template 999"]),
        ([("e", {"type": "enrol", "journey": 999})], ["e.journey: no such journey"]),
    ],
)
def test_problems_name_the_step(steps: list[tuple[str, dict[str, Any]]], expected: list[str]) -> None:
    assert problems(*steps) == expected


def test_a_loop_through_a_wait_is_fine() -> None:
    assert problems(("a", {"type": "add_tag", "tag": "x"}), ("w", {"type": "wait", "days": 7, "next": "a"})) == []


def test_unknown_template_variables_and_wrong_channel() -> None:
    # A template saved before a variable was renamed (written directly: save_template would refuse it)
    now = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    stale = Template.objects.create(name="Cũ", channel="email", subject="Chào {{ ten }}", body="{{ owner.nam }}",
                                    created_at=now, updated_at=now)  # fmt: skip
    sms = save_template(None, {"name": "SMS", "channel": "sms", "body": "Chào {{ given_name }}"})
    steps = ("e", {"type": "send_email", "template": stale.pk}), ("s", {"type": "send_email", "template": sms.pk})
    assert problems(*steps) == [
        "e.template: unknown template variables: owner.nam, ten", "s.template: a template of another channel (sms)",
    ]  # fmt: skip


def test_save_refuses_a_bad_graph_and_writes_nothing() -> None:
    with pytest.raises(JourneyError) as error:
        actions.save_journey(None, {"name": "X", "graph": graph(("a", {"type": "teleport"}))}, actor=None)
    assert error.value.field == "graph" and [p.step for p in error.value.problems] == ["a"]
    assert Journey.objects.count() == 0


def test_order_must_list_every_step() -> None:
    assert [
        str(p) for p in graphs.validate({"order": ["a"], "steps": {"a": {"type": "exit"}, "b": {"type": "exit"}}})
    ] == ["order: “order” must list every step once"]


def test_split_is_deterministic_and_follows_the_percentages() -> None:
    arms = [{"name": "A", "percent": 50, "next": "a"}, {"name": "B", "percent": 30, "next": "b"},
            {"name": "C", "percent": 20, "next": "c"}]  # fmt: skip
    picks = Counter(graphs.split_arm(arms, enrolment_id, "offer")["name"] for enrolment_id in range(1, 20001))
    assert abs(picks["A"] / 20000 - 0.5) < 0.02
    assert abs(picks["B"] / 20000 - 0.3) < 0.02
    assert abs(picks["C"] / 20000 - 0.2) < 0.02
    assert [graphs.split_arm(arms, 4242, "offer")["name"] for _ in range(3)] == [
        graphs.split_arm(arms, 4242, "offer")["name"]
    ] * 3


def test_next_weekday_time_in_the_contact_zone() -> None:
    saigon = ZoneInfo("Asia/Ho_Chi_Minh")
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=saigon)
    assert graphs.next_weekday_time(monday_10, 0, "09:00", saigon) == datetime(2026, 3, 9, 9, 0, tzinfo=saigon)
    assert graphs.next_weekday_time(monday_10, 0, "11:30", saigon) == datetime(2026, 3, 2, 11, 30, tzinfo=saigon)
    assert graphs.next_weekday_time(monday_10, None, "08:00", saigon) == datetime(2026, 3, 3, 8, 0, tzinfo=saigon)
