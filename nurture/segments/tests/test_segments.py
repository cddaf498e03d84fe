from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nurture.accounts.models import User
from nurture.contacts.access import visible_contacts
from nurture.contacts.actions import EventInput, change_stage, record_events
from nurture.contacts.models import Contact, Event, Tag
from nurture.core import clock, jobs
from nurture.core.jobs import enqueue_on_commit, process_due_jobs
from nurture.core.models import Job, Revision
from nurture.identity.actions import merge_contacts
from nurture.lifecycle import stages
from nurture.lifecycle.models import Stage, StageChange
from nurture.segments import actions
from nurture.segments.actions import SegmentError
from nurture.segments.models import Segment, SegmentMember
from nurture.segments.tests.helpers import WEBINAR_NOT_CUSTOMER, capture, segment_events

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 09:00 +07:00"


def webinar(contact: Contact, days_ago: float) -> None:
    record_events(
        [EventInput(contact_id=contact.pk, type="webinar_attended", at=clock.now() - timedelta(days=days_ago))]
    )


def dynamic(conditions: dict[str, Any], name: str = "Webinar, not customer") -> Segment:
    return actions.save_segment(None, {"name": name, "kind": "dynamic", "conditions": conditions}, actor=None)


def in_python(contact: Contact, condition: str) -> bool:
    """The same segments, decided by reading the rows one by one."""
    now = clock.now()
    if condition == "webinar_not_customer":
        recent = any(e.type == "webinar_attended" and e.at >= now - timedelta(days=30) for e in contact.events.all())
        return recent and contact.stage.key != "customer"
    tags = {t.name for t in contact.tags.all()}
    return bool(tags & {"vip", "ielts"}) or contact.province.casefold() == "hà nội"


@time_machine.travel(NOW, tick=False)
def test_a_dynamic_count_equals_filtering_the_contacts_in_python() -> None:
    # Given a handful of contacts: recent and old webinars, a customer, two tags, a tombstone
    a = capture(full_name="An", phone="0912345601", province="Hà Nội")
    b = capture(full_name="Bình", phone="0912345602", province="Huế")
    c = capture(full_name="Chi", phone="0912345603", province="Hà Nội", stage="customer")
    d = capture(full_name="Dũng", phone="0912345604", tags=["vip", "ielts"])
    e = capture(full_name="Em", phone="0912345605", tags=["vip"])
    ghost = capture(full_name="Ghost", phone="0912345606", province="Hà Nội")
    webinar(a, 2)
    webinar(b, 40)
    webinar(c, 1)
    webinar(d, 3)
    webinar(ghost, 1)
    Contact.objects.filter(pk=ghost.pk).update(merged_into=a)
    live = Contact.objects.filter(merged_into__isnull=True).prefetch_related("events", "tags").select_related("stage")
    tagged = {"any": [{"field": "tag", "op": "in", "value": ["vip", "ielts"]},
                      {"field": "province", "op": "eq", "value": "hà nội"}]}  # fmt: skip
    for name, conditions in (("webinar_not_customer", WEBINAR_NOT_CUSTOMER), ("tagged", tagged)):
        # When the segment is counted and listed
        segment = dynamic(conditions, name=name)
        counted = actions.count(segment, actions.live_contacts())
        listed = set(actions.members(segment, actions.live_contacts()).values_list("pk", flat=True))
        # Then both agree with Python, each contact once (d has both tags), the tombstone never
        expected = {x.pk for x in live if in_python(x, name)}
        assert expected == ({a.pk, d.pk} if name == "webinar_not_customer" else {a.pk, c.pk, d.pk, e.pk})
        assert (counted, listed) == (len(expected), expected)
    assert b.pk not in expected


@time_machine.travel(NOW, tick=False)
def test_the_live_count_is_one_query(alice: User) -> None:
    # Given a segment with an event condition and a rep's scope
    a = capture(owner=alice, full_name="An", phone="0912345601")
    webinar(a, 2)
    segment = dynamic(WEBINAR_NOT_CUSTOMER)
    # When it is counted for everyone and for the rep, then each count is one SQL query
    for contacts in (actions.live_contacts(), visible_contacts(alice)):
        with CaptureQueriesContext(connection) as queries:
            assert actions.count(segment, contacts) == 1
        assert len(queries) == 1, [q["sql"] for q in queries]


def test_refresh_records_who_entered_and_left_exactly_once() -> None:
    with time_machine.travel(NOW, tick=False) as traveller:
        # Given contacts, and a segment saved (which queues its refresh)
        a = capture(full_name="An", phone="0912345601")
        b = capture(full_name="Bình", phone="0912345602")
        c = capture(full_name="Chi", phone="0912345603", stage="customer")
        webinar(a, 2)
        webinar(b, 25)
        webinar(c, 1)
        segment = dynamic(WEBINAR_NOT_CUSTOMER)
        assert list(Job.objects.filter(kind="segments.refresh").values_list("payload", flat=True)) == [
            {"segment_id": segment.pk}
        ]
        # When the worker runs, and a second refresh finds nothing new
        process_due_jobs()
        again = actions.refresh(segment)
        # Then a and b entered once each
        data = {"segment": segment.pk, "name": "Webinar, not customer"}
        assert segment_events() == [(a.pk, "segment_entered", data), (b.pk, "segment_entered", data)]
        assert (again.entered, again.left, again.members) == (0, 0, 2)
        assert set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == {a.pk, b.pk}
        segment.refresh_from_db()
        assert (segment.member_count, segment.refreshed_at) == (2, clock.now())
        # When a becomes a customer, c stops being one, and b's webinar grows older than 30 days
        Contact.objects.filter(pk=a.pk).update(stage_id=stages.stage_id("customer"))
        Contact.objects.filter(pk=c.pk).update(stage_id=stages.stage_id("lead"))
        traveller.shift(timedelta(days=6))
        result = actions.refresh(segment)
        actions.refresh(segment)
        # Then a and b left, c entered: one event each, none repeated
        assert (result.entered, result.left, result.members) == (1, 2, 1)
        assert segment_events(at=clock.now()) == [
            (a.pk, "segment_left", data), (b.pk, "segment_left", data), (c.pk, "segment_entered", data),
        ]  # fmt: skip
        assert len(segment_events()) == 5
        assert Event.objects.filter(type="segment_left", contact=a).get().source == "segments"
        assert list(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == [c.pk]


@time_machine.travel(NOW, tick=False)
def test_static_lists_add_and_remove_with_events(admin_user: User) -> None:
    # Given a static list and three contacts, one of them merged away
    a = capture(full_name="An", phone="0912345601")
    b = capture(full_name="Bình", phone="0912345602")
    ghost = capture(full_name="Ghost", phone="0912345603")
    Contact.objects.filter(pk=ghost.pk).update(merged_into=a)
    vip = actions.save_segment(None, {"name": "VIP", "kind": "static"}, actor=admin_user)
    assert not Job.objects.exists()
    # When contacts are added (twice over) and removed (one never was a member)
    added = actions.add_to_list(vip, [a.pk, b.pk, a.pk, ghost.pk], actor=admin_user)
    again = actions.add_to_list(vip, [a.pk], actor=admin_user)
    removed = actions.remove_from_list(vip, [b.pk, 999_999], actor=admin_user)
    # Then each change is one event, the tombstone was skipped, and the count follows
    assert (added, again, removed) == ([a.pk, b.pk], [], [b.pk])
    data = {"segment": vip.pk, "name": "VIP"}
    assert segment_events() == [(a.pk, "segment_entered", data), (b.pk, "segment_entered", data),
                                (b.pk, "segment_left", data)]  # fmt: skip
    assert Event.objects.filter(type="segment_entered", contact=a).get().actor == admin_user
    vip.refresh_from_db()
    assert vip.member_count == 1
    assert list(actions.members(vip, actions.live_contacts()).values_list("pk", flat=True)) == [a.pk]
    # And a dynamic segment's members cannot be changed by hand
    with pytest.raises(SegmentError, match="only a static list"):
        actions.add_to_list(dynamic(WEBINAR_NOT_CUSTOMER), [a.pk], actor=admin_user)


@pytest.mark.parametrize(
    ("data", "field", "path", "message"),
    [
        ({"name": "x", "conditions": {"any": [{"field": "province", "op": "eq", "value": "Huế"},
                                              {"field": "shoe_size", "op": "eq", "value": 42}]}},
         "conditions", ["any", 1, "field"], "any[1].field: unknown field 'shoe_size'"),
        ({"name": "x", "conditions": {"not": {"field": "score", "op": "contains", "value": 1}}},
         "conditions", ["not", "op"], "not.op: 'contains' does not apply to score"),
        ({"name": "x", "conditions": [{"field": "score", "op": "gt", "value": 1}]},
         "conditions", [], "condition: expected an object"),
        ({"name": "x", "conditions": {}}, "conditions", None, "a dynamic segment needs a condition"),
        ({"name": "  ", "conditions": WEBINAR_NOT_CUSTOMER}, "name", None, "a segment needs a name"),
        ({"name": "x", "kind": "static", "conditions": WEBINAR_NOT_CUSTOMER}, "conditions", None, "no conditions"),
        ({"name": "x", "kind": "smart"}, "kind", None, "unknown kind"),
    ],
)  # fmt: skip
def test_invalid_segments_are_refused_naming_the_part(
    data: dict[str, Any], field: str, path: list[Any] | None, message: str
) -> None:
    # When an invalid segment is saved, then the error names the field and the condition's part
    with pytest.raises(SegmentError) as refused:
        actions.save_segment(None, data, actor=None)
    assert (refused.value.field, refused.value.path) == (field, path)
    assert message in refused.value.message
    # And nothing was written or queued
    assert not Segment.objects.exists() and not Job.objects.exists()


def test_an_edit_keeps_the_kind_and_only_a_new_condition_queues_a_refresh() -> None:
    # Given a dynamic segment whose first refresh is done
    segment = dynamic(WEBINAR_NOT_CUSTOMER)
    process_due_jobs()
    # When it is renamed, then no refresh is queued; when its condition changes, one is
    actions.save_segment(segment, {"name": "Renamed"}, actor=None)
    assert Job.objects.filter(kind="segments.refresh", status="queued").count() == 0
    actions.save_segment(segment, {"conditions": {"field": "score", "op": "gte", "value": 50}}, actor=None)
    assert Job.objects.filter(kind="segments.refresh", status="queued").count() == 1
    # And its kind cannot change
    with pytest.raises(SegmentError, match="kind cannot change"):
        actions.save_segment(segment, {"kind": "static", "conditions": {}}, actor=None)
    segment.refresh_from_db()
    assert (segment.name, segment.kind) == ("Renamed", "dynamic")


@time_machine.travel(NOW, tick=False)
def test_the_nightly_job_and_the_command_refresh_every_segment(capsys: pytest.CaptureFixture[str]) -> None:
    # Given two segments and a list, one of the segments with a condition the language no longer accepts
    a = capture(full_name="An", phone="0912345601")
    webinar(a, 1)
    good = dynamic(WEBINAR_NOT_CUSTOMER)
    broken = dynamic({"field": "score", "op": "gte", "value": 1}, name="Broken")
    Segment.objects.filter(pk=broken.pk).update(conditions={"field": "shoe_size", "op": "eq", "value": 1})
    listed = actions.save_segment(None, {"name": "List", "kind": "static"}, actor=None)
    Job.objects.all().delete()
    assert jobs._DAILY["segments.refresh_all"] == 3  # after scoring's decay at 2
    # When the nightly job runs
    enqueue_on_commit("segments.refresh_all", {"day": "2026-03-02"})
    process_due_jobs()
    # Then the good segment is refreshed and the broken one reported on the job
    assert segment_events() == [(a.pk, "segment_entered", {"segment": good.pk, "name": good.name})]
    job = Job.objects.get(kind="segments.refresh_all")
    assert job.status == "queued" and job.attempts == 1 and f"segment {broken.pk}" in job.last_error
    # When the command runs, then it prints each segment and fails because of the broken one
    with pytest.raises(CommandError, match="some segments"):
        call_command("refresh_segments")
    out = capsys.readouterr()
    assert f"#{good.pk} Webinar, not customer: 1 members (+0 entered, -0 left)" in out.out
    assert f"#{listed.pk} List: 0 members" in out.out and f"#{broken.pk} Broken: failed" in out.err
    assert len(segment_events()) == 1


def test_a_deleted_segment_takes_its_rows_and_its_queued_refresh_is_a_no_op() -> None:
    # Given a segment with members and a queued refresh
    a = capture(full_name="An", phone="0912345601")
    tag = Tag.objects.create(name="vip")
    a.tags.add(tag)
    segment = dynamic({"field": "tag", "op": "eq", "value": "vip"})
    actions.refresh(segment)
    # When it is deleted and the worker runs
    actions.delete_segment(segment, actor=None)
    process_due_jobs()
    # Then its rows are gone, nobody "left", and the job is done
    assert not SegmentMember.objects.exists() and not Segment.objects.exists()
    assert [t for _, t, _ in segment_events()] == ["segment_entered"]
    assert Job.objects.get(kind="segments.refresh").status == "done"


def test_merging_two_members_of_a_list_keeps_the_survivor_once(admin_user: User) -> None:
    # Given two contacts on the same list
    a = capture(full_name="Nguyễn Văn An", phone="0912345601")
    b = capture(full_name="Nguyễn Văn An", phone="0912345602")
    vip = actions.save_segment(None, {"name": "VIP", "kind": "static"}, actor=None)
    actions.add_to_list(vip, [a.pk, b.pk], actor=None)
    # When they are merged (memberships stay with the tombstone) and the lists are recounted
    merge_contacts(a, b, actor=admin_user)
    actions.refresh_all()
    # Then the list holds the survivor once and counts one member
    assert list(actions.members(vip, actions.live_contacts()).values_list("pk", flat=True)) == [a.pk]
    vip.refresh_from_db()
    assert vip.member_count == 1


@time_machine.travel(NOW, tick=False)
def test_a_changed_contact_enters_and_leaves_within_the_next_worker_run() -> None:
    # Given a refreshed segment and a lead who is not in it
    segment = dynamic(WEBINAR_NOT_CUSTOMER)
    process_due_jobs()
    lead = capture(full_name="Phạm Thu Hà", phone="0987000111")
    process_due_jobs()
    assert segment_events() == []
    # When the lead attends the webinar, then the next worker run (not the nightly refresh) records the entry
    webinar(lead, days_ago=0)
    assert Job.objects.filter(kind="segments.refresh_contacts", status="queued").exists()
    process_due_jobs()
    assert segment_events() == [(lead.pk, "segment_entered", {"segment": segment.pk, "name": segment.name})]
    # And becoming a customer takes them out the same way
    customer = Stage.objects.get(stage_set__is_active=True, key="customer")
    change_stage(lead, to_stage=customer, cause=StageChange.Cause.USER, reason="paid")
    process_due_jobs()
    assert [t for _c, t, _d in segment_events()] == ["segment_entered", "segment_left"]
    assert Segment.objects.get(pk=segment.pk).member_count == 0


def test_captures_ask_for_dynamic_segments_once_until_segments_change() -> None:
    # Given no dynamic segment, and the answer held after a first capture
    capture(full_name="Lê Văn Bình", phone="0987000201")
    # When another lead is captured, then no query asks for dynamic segments and no refresh is queued
    with CaptureQueriesContext(connection) as queries:
        capture(full_name="Trần Thị Cúc", phone="0987000202")
    assert not [q for q in queries.captured_queries if "segments_segment" in q["sql"]]
    assert not Job.objects.filter(kind="segments.refresh_contacts").exists()
    # When a dynamic segment is saved, then the next capture queues a refresh of its contact
    dynamic(WEBINAR_NOT_CUSTOMER)
    lead = capture(full_name="Phạm Văn Dũng", phone="0987000203")
    assert [j.payload for j in Job.objects.filter(kind="segments.refresh_contacts")] == [{"contact_ids": [lead.pk]}]


def test_a_segment_made_by_another_process_is_seen_by_the_next_transaction() -> None:
    # Given the held answer "no dynamic segment"
    capture(full_name="Lê Văn Bình", phone="0987000201")
    # When another process adds one (here: without signals, then its token, as its bump would)
    now = clock.now()
    other = Segment(name="Khác", kind="dynamic", conditions=WEBINAR_NOT_CUSTOMER, created_at=now, updated_at=now)
    Segment.objects.bulk_create([other])
    Revision.objects.filter(name="segments").update(token=uuid.uuid4())
    connection.nurture_revisions = None  # type: ignore[attr-defined]  # as a new transaction starts (the test is one)
    # Then the next capture queues a refresh
    lead = capture(full_name="Trần Thị Cúc", phone="0987000202")
    assert [j.payload for j in Job.objects.filter(kind="segments.refresh_contacts")] == [{"contact_ids": [lead.pk]}]
