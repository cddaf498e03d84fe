"""Triggers (inside the capture that fires them), re-enrolment, goals, unsubscribes, merges, pause, versions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from nurture.accounts.models import User
from nurture.contacts.actions import EventInput, change_stage, record_events
from nurture.contacts.models import Event
from nurture.identity.actions import merge_contacts, unmerge
from nurture.journeys import actions
from nurture.journeys.actions import JourneyError
from nurture.journeys.models import Enrolment, Journey, StepRun
from nurture.journeys.tests.conftest import START, capture, drain, graph, journey
from nurture.lifecycle.models import Stage
from nurture.messaging.actions import set_preferences
from nurture.routing import actions as routing
from nurture.scoring.actions import save_rule
from nurture.segments.actions import add_to_list, save_segment

pytestmark = pytest.mark.django_db
TAG = ("t", {"type": "add_tag", "tag": "x"})
WAIT = ("w", {"type": "wait", "days": 7})


def states(j: Journey) -> list[tuple[int, str]]:
    return list(Enrolment.objects.filter(journey=j).order_by("pk").values_list("contact_id", "status"))


def test_a_form_capture_enrols_inside_the_capture_with_the_filter(frozen: Any) -> None:
    # Given a journey started by form submissions from Hà Nội
    j = journey(WAIT, trigger={"type": "event", "event": "form_submitted",
                               "filter": {"field": "province", "op": "eq", "value": "Hà Nội"}})  # fmt: skip
    # When two leads are captured by a form, one from Hà Nội, and one by import
    hanoi = capture(province="Hà Nội")
    capture(province="Đà Nẵng")
    capture(event_type=Event.Type.IMPORTED, province="Hà Nội")
    # Then only the Hà Nội form lead is enrolled, due now, with the event that started it
    e = Enrolment.objects.get(journey=j)
    assert (e.contact_id, e.status, e.step, e.next_due_at, e.version.number) == (hanoi.pk, "active", "w", START, 1)
    assert e.data["event_type"] == "form_submitted" and e.data["source"] == "event"


def test_event_trigger_with_a_where_on_the_event(frozen: Any) -> None:
    j = journey(TAG, trigger={"type": "event", "event": "video_watched",
                              "where": [{"field": "data.video", "op": "eq", "value": "demo"}]})  # fmt: skip
    a, b = capture(), capture()
    record_events([EventInput(a.pk, "video_watched", data={"video": "demo"}),
                   EventInput(b.pk, "video_watched", data={"video": "other"})])  # fmt: skip
    assert states(j) == [(a.pk, "active")]


def test_stage_segment_and_score_band_triggers(frozen: Any) -> None:
    # Given journeys on entering MQL, on entering a list, and on becoming hot
    mql = journey(TAG, trigger={"type": "stage", "stage": "mql"}, name="MQL")
    segment = save_segment(None, {"name": "Dự webinar", "kind": "static"}, actor=None)
    listed = journey(TAG, trigger={"type": "segment", "segment": segment.pk}, name="List")
    hot = journey(TAG, trigger={"type": "score_band", "band": "hot"}, name="Hot")
    save_rule(
        None, {"name": "Webinar", "kind": "behaviour", "event_type": "webinar_attended", "points": 60}, actor=None
    )
    a, b, c = capture(), capture(), capture()
    # When a moves to MQL, b joins the list, and c attends a webinar (60 points: hot)
    change_stage(a, to_stage=Stage.objects.get(stage_set__is_active=True, key="mql"), cause="user")
    add_to_list(segment, [b.pk], actor=None)
    record_events([EventInput(c.pk, "webinar_attended")])
    # Then each is enrolled in its journey only
    assert (states(mql), states(listed), states(hot)) == ([(a.pk, "active")], [(b.pk, "active")], [(c.pk, "active")])
    # And a second event while hot does not enrol c again
    record_events([EventInput(c.pk, "webinar_attended")])
    assert states(hot) == [(c.pk, "active")]


def test_a_lead_hot_on_capture_is_enrolled_with_the_owner_routing_gave_it(frozen: Any) -> None:
    # Given a journey for hot leads of rep Lan, form leads worth 60 points, and a rule giving every lead to Lan
    lan = User.objects.create_user(username="lan", role=User.Role.SALES_REP)
    routing.save_rule(None, {"name": "Everyone", "priority": 1}, [(lan, 1)])
    save_rule(None, {"name": "Form", "kind": "behaviour", "event_type": "form_submitted", "points": 60}, actor=None)
    hot = journey(TAG, trigger={"type": "score_band", "band": "hot",
                                "filter": {"field": "owner", "op": "eq", "value": "lan"}})  # fmt: skip
    # When a form lead is captured
    lead = capture()
    # Then the journey's filter saw the owner the capture's routing gave the lead: it is enrolled
    assert lead.owner == lan and states(hot) == [(lead.pk, "active")]


@pytest.mark.parametrize(("rule", "days", "expected"), [("never", None, 1), ("always", None, 2), ("after_days", 30, 1)])
def test_re_enrolment_rules(frozen: Any, rule: str, days: int | None, expected: int) -> None:
    # Given a one-step journey, a contact who went through it, and the trigger firing again 10 days later
    j = journey(TAG, trigger={"type": "event", "event": "quote_requested"}, reenrol=rule, reenrol_days=days)
    contact = capture()
    record_events([EventInput(contact.pk, "quote_requested")])
    record_events([EventInput(contact.pk, "quote_requested")])  # still on it: never twice at once
    drain()
    frozen.move_to(START + timedelta(days=10))
    record_events([EventInput(contact.pk, "quote_requested")])
    assert Enrolment.objects.filter(journey=j).count() == expected


def test_after_days_re_enrols_once_the_days_have_passed(frozen: Any) -> None:
    j = journey(TAG, reenrol="after_days", reenrol_days=30)
    contact = capture()
    actions.enrol(j, [contact.pk])
    frozen.move_to(START + timedelta(days=31))
    drain()
    assert len(actions.enrol(j, [contact.pk])) == 1


def test_contacts_meeting_the_goal_are_not_enrolled(frozen: Any) -> None:
    j = journey(TAG, goal={"field": "tag", "op": "eq", "value": "đã mua"})
    buyer, other = capture(tags=["đã mua"]), capture()
    assert [e.contact_id for e in actions.enrol(j, [buyer.pk, other.pk])] == [other.pk]


def test_manual_and_segment_enrolment(frozen: Any) -> None:
    j = journey(TAG)
    a, b, c = capture(province="Huế"), capture(province="Huế"), capture()
    segment = save_segment(None, {"name": "Huế", "conditions": {"field": "province", "op": "eq", "value": "Huế"}},
                           actor=None)  # fmt: skip
    assert [e.contact_id for e in actions.enrol_segment(j, segment)] == [a.pk, b.pk]
    assert [e.contact_id for e in actions.enrol(j, [a.pk, c.pk])] == [c.pk]


def test_a_draft_cannot_take_contacts() -> None:
    j = journey(TAG, publish=False)
    with pytest.raises(JourneyError):
        actions.enrol(j, [capture().pk])


def test_unsubscribing_from_every_channel_of_the_journey_exits(frozen: Any) -> None:
    # Given an email-only journey and a wait
    from nurture.messaging.actions import save_template

    template = save_template(None, {"name": "T", "channel": "email", "subject": "S", "body": "B"}).pk
    j = journey(WAIT, ("mail", {"type": "send_email", "template": template}))
    contact, other = capture(), capture()
    actions.enrol(j, [contact.pk, other.pk])
    drain()
    # When one unsubscribes from SMS (not the journey's channel) and the other from email
    set_preferences(contact, {"sms": False}, source="link")
    set_preferences(other, {"email": False}, source="link")
    # Then only the second leaves the journey
    assert states(j) == [(contact.pk, "waiting"), (other.pk, "exited")]
    assert Enrolment.objects.get(contact=other).exit_reason == "unsubscribed"


def test_merge_leaves_the_survivor_on_each_journey_once(frozen: Any) -> None:
    # Given two records of one person, both on journey A, and the merged one alone on journey B
    a = journey(WAIT, name="A")
    b = journey(WAIT, name="B")
    survivor, duplicate = capture(full_name="Phạm Thu Hà"), capture(full_name="Vũ Minh Khang")
    actions.enrol(a, [survivor.pk, duplicate.pk])
    actions.enrol(b, [duplicate.pk])
    drain()
    # When they are merged
    merge = merge_contacts(survivor, duplicate, actor=None)
    # Then the survivor goes on in its own enrolment of A, the duplicate's exits; B moved to the survivor
    assert [(c, s, r) for c, s, r in Enrolment.objects.filter(journey=a).order_by("pk")
            .values_list("contact_id", "status", "exit_reason")] == [
        (survivor.pk, "waiting", ""), (survivor.pk, "exited", "merged: duplicate")]  # fmt: skip
    assert states(b) == [(survivor.pk, "waiting")]
    # And undoing the merge gives the merged contact its enrolments back
    unmerge(merge, actor=None)
    assert states(b) == [(duplicate.pk, "waiting")]


def test_pause_stops_advancing_and_resume_goes_on(frozen: Any) -> None:
    j = journey(("w", {"type": "wait", "hours": 1}), TAG)
    e = actions.enrol(j, [capture().pk])[0]
    drain()
    actions.set_status(j, Journey.Status.PAUSED, actor=None)
    frozen.move_to(START + timedelta(hours=5))
    assert drain() == 0
    e.refresh_from_db()
    assert (e.step, e.status) == ("w", "waiting")
    actions.set_status(j, Journey.Status.LIVE, actor=None)
    drain()
    e.refresh_from_db()
    assert e.status == "completed"


def test_paused_journeys_take_no_trigger_and_archived_ones_exit_everyone(frozen: Any) -> None:
    j = journey(WAIT, trigger={"type": "event", "event": "form_submitted"})
    first = capture()
    actions.set_status(j, Journey.Status.PAUSED, actor=None)
    capture()
    assert states(j) == [(first.pk, "active")]
    actions.set_status(j, Journey.Status.ARCHIVED, actor=None)
    assert states(j) == [(first.pk, "exited")]
    with pytest.raises(JourneyError):
        actions.set_status(j, Journey.Status.LIVE, actor=None)


def test_editing_a_live_journey_publishes_a_new_version_enrolments_keep_theirs(frozen: Any) -> None:
    # Given a live journey v1 with a contact waiting
    j = journey(WAIT, TAG)
    old = actions.enrol(j, [capture().pk])[0]
    drain()
    # When the draft is edited (the running version is untouched) and published as v2
    actions.save_journey(j, {"graph": graph(WAIT, ("t2", {"type": "add_tag", "tag": "v2"}))}, actor=None)
    j.refresh_from_db()
    assert j.live_version is not None and j.live_version.number == 1 and j.has_unpublished_changes
    v2 = actions.publish(j, actor=None)
    new = actions.enrol(j, [capture().pk])[0]
    drain()
    frozen.move_to(START + timedelta(days=8))
    drain()
    # Then the old enrolment finished v1's path and the new one v2's
    assert (old.version.number, new.version.number, v2.number) == (1, 2, 2)
    assert list(StepRun.objects.filter(enrolment=old).values_list("step", flat=True)) == ["w", "t"]
    assert list(StepRun.objects.filter(enrolment=new).values_list("step", flat=True)) == ["w", "t2"]


def test_move_enrolments_between_versions(frozen: Any) -> None:
    j = journey(WAIT, TAG)
    v1 = j.live_version
    assert v1 is not None
    e = actions.enrol(j, [capture().pk])[0]
    drain()
    new_graph = graph(("pause", {"type": "wait", "days": 2}), ("t2", {"type": "add_tag", "tag": "v2"}))
    actions.save_journey(j, {"graph": new_graph}, actor=None)
    v2 = actions.publish(j, actor=None)
    with pytest.raises(JourneyError):
        actions.move_enrolments(j, v1, v2, {"t": "t2"})  # "w" is not mapped
    assert actions.move_enrolments(j, v1, v2, {"w": "pause", "t": "t2"}) == 1
    e.refresh_from_db()
    # A wait moved onto a wait keeps its timer
    assert (e.version_id, e.step, e.status, e.next_due_at) == (v2.pk, "pause", "waiting", START + timedelta(days=7))
    frozen.move_to(START + timedelta(days=7))
    drain()
    assert list(StepRun.objects.filter(enrolment=e).values_list("step", flat=True)) == ["pause", "t2"]


def test_date_trigger_birthdays_and_repurchase_dates(frozen: Any) -> None:
    birthday = journey(TAG, trigger={"type": "date", "field": "birth_date"}, name="Sinh nhật", reenrol="after_days",
                       reenrol_days=300)  # fmt: skip
    repurchase = journey(TAG, trigger={"type": "date", "field": "custom.repurchase_due", "days_before": 3},
                         name="Mua lại", reenrol="always")  # fmt: skip
    born = capture(birth_date="1990-03-02")
    capture(birth_date="1990-03-03")
    due = capture(custom_fields={"repurchase_due": "2026-03-05"})
    capture(custom_fields={"repurchase_due": "2026-03-06"})
    assert actions.run_date_triggers(date(2026, 3, 2)) == 2
    assert actions.run_date_triggers(date(2026, 3, 2)) == 0  # the job ran twice: nobody twice
    assert states(birthday) == [(born.pk, "active")] and states(repurchase) == [(due.pk, "active")]


def test_the_daily_job_runs_at_eight(frozen: Any, monkeypatch: Any) -> None:
    from nurture.core import jobs
    from nurture.core.models import Job

    monkeypatch.setattr(jobs, "_SCHEDULED", {})  # another test's worker step may have queued today already
    jobs.enqueue_daily_jobs()
    job = Job.objects.get(kind="journeys.date_triggers", payload__day="2026-03-02")
    assert job.due_at == datetime.fromisoformat("2026-03-02T08:00:00+07:00")
