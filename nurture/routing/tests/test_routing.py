"""Assignment rules and strategies, skipping absent or full reps, the queue, re-qualification, and SLA timers."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from nurture.accounts.models import Team, User
from nurture.availability.models import Leave
from nurture.contacts.actions import capture_leads, change_stage, log_activity
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.jobs import claim_due_jobs, process_due_jobs
from nurture.core.models import Job
from nurture.lifecycle import stages
from nurture.lifecycle.actions import set_checklist
from nurture.lifecycle.models import Stage, StageChange
from nurture.notifications.models import Notification
from nurture.routing import actions
from nurture.routing.actions import Candidate, RoutingError, Workload, pick
from nurture.routing.models import Assignment, RuleMember

pytestmark = pytest.mark.django_db
MONDAY_10 = "2026-03-02 10:00 +07:00"
START = datetime.fromisoformat("2026-03-02T10:00:00+07:00")
N = 0


def reps(n: int, team: Team | None = None, prefix: str = "rep") -> list[User]:
    return [User.objects.create_user(username=f"{prefix}{i}", role=User.Role.SALES_REP, team=team,
                                     email=f"{prefix}{i}@example.vn") for i in range(n)]  # fmt: skip


def rule(members: list[User], strategy: str = "round_robin", weights: list[int] | None = None, **data: Any):
    data = {"name": data.pop("name", "All leads"), "strategy": strategy, **data}
    return actions.save_rule(None, data, list(zip(members, weights or [1] * len(members), strict=True)))


def capture(**fields: Any) -> Contact:
    global N
    N += 1
    fields.setdefault("full_name", f"Khách {N}")
    fields.setdefault("phone", f"09{N:08d}")
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.FORM_SUBMITTED, source_label="form")[0]
    return Contact.objects.select_related("owner").get(pk=result.contact_id)


def simulate(strategy: str, weights: list[int], leads: int, absent: frozenset[int] = frozenset()) -> Counter[int]:
    """Pick for `leads` leads with the strategy's own code, as the rotation state evolves."""
    members = [RuleMember(user_id=i, position=i, weight=w) for i, w in enumerate(weights)]
    loads = {i: Workload() for i in range(len(weights))}
    got: Counter[int] = Counter()
    last = None
    for n in range(leads):
        eligible = [Candidate(m, loads[m.user_id]) for m in members if m.user_id not in absent]
        chosen = pick(strategy, eligible, last)
        chosen.member.assigned += 1
        chosen.load.open_leads += 1
        chosen.load.last_at = START + timedelta(seconds=n)
        if n % 3 == 0:  # leads close over time: open counts fall unevenly
            busiest = max(loads.values(), key=lambda w: w.open_leads)
            busiest.open_leads -= 1
        last = chosen.member.position
        got[chosen.member.user_id] += 1
    return got


@pytest.mark.parametrize(
    ("strategy", "weights", "expected"),
    [
        ("round_robin", [1, 1, 1, 1], [0.25] * 4),
        ("weighted", [5, 3, 2], [0.5, 0.3, 0.2]),
        ("fewest_open", [1, 1, 1], [1 / 3] * 3),
    ],
)
def test_each_strategy_is_fair_over_10000_leads(strategy: str, weights: list[int], expected: list[float]) -> None:
    got = simulate(strategy, weights, 10_000)
    shares = [got[i] / 10_000 for i in range(len(weights))]
    assert shares == pytest.approx(expected, abs=0.01)


def test_an_absent_rep_gets_nothing_and_the_others_share_evenly() -> None:
    got = simulate("weighted", [1, 1, 1], 9_000, absent=frozenset({1}))
    assert got[1] == 0 and got[0] == got[2] == 4_500


@time_machine.travel(MONDAY_10, tick=False)
def test_capture_assigns_in_rotation_and_notifies_in_the_same_transaction() -> None:
    a, b, c = reps(3)
    rule([a, b, c])
    owners = [capture().owner for _ in range(6)]
    assert owners == [a, b, c, a, b, c]
    contact = capture(need="IELTS 6.5")
    assignment = Assignment.objects.get(contact=contact)
    assert assignment.is_current and assignment.cause == "capture" and assignment.reason["rule"] == "All leads"
    notice = Notification.objects.get(contact=contact)
    assert notice.user == contact.owner and contact.full_name in notice.title
    assert Job.objects.filter(kind="notifications.email", payload__notification_id=notice.pk).exists()


@time_machine.travel(MONDAY_10, tick=False)
def test_rules_go_in_priority_order_by_conditions() -> None:
    north, south = reps(1, prefix="north")[0], reps(1, prefix="south")[0]
    rule([south], name="South", priority=20, conditions={"field": "province", "op": "in", "value": ["Hồ Chí Minh"]})
    rule([north], name="North", priority=10, conditions={"field": "province", "op": "eq", "value": "Hà Nội"})
    assert capture(province="Hà Nội").owner == north
    assert capture(province="Hồ Chí Minh").owner == south
    stray = capture(province="Huế")
    assert stray.owner is None
    queued = Assignment.objects.get(contact=stray)
    assert queued.in_queue and queued.reason["warning"]


@time_machine.travel(MONDAY_10, tick=False)
def test_a_new_lead_s_company_and_stage_are_read_by_the_rules_that_ask_for_them() -> None:
    # Given a rule on the company's name and one on the stage, first in priority
    key_accounts, newcomers, others = reps(1, prefix="key")[0], reps(1, prefix="new")[0], reps(1, prefix="any")[0]
    rule([key_accounts], name="Vingroup", priority=10, conditions={"field": "company", "op": "eq", "value": "vingroup"})
    rule([newcomers], name="Leads", priority=20, conditions={"field": "stage", "op": "eq", "value": "lead"})
    rule([others], name="Everyone", priority=30)
    # When leads come with and without the company, then each goes by its company, else by its stage
    assert capture(company="Vingroup").owner == key_accounts
    assert capture(company="FPT").owner == newcomers
    assert capture().owner == newcomers


@time_machine.travel(MONDAY_10, tick=False)
def test_reps_on_leave_outside_hours_or_full_are_skipped_with_the_reason() -> None:
    a, b, c = reps(3)
    Leave.objects.create(user=a, starts_at=clock.now() - timedelta(days=1), ends_at=clock.now() + timedelta(days=2),
                         reason="nghỉ phép", created_at=clock.now())  # fmt: skip
    actions.set_capacity(b, max_per_day=1, max_open=None)
    rule([a, b, c])
    first, second = capture(), capture()
    assert (first.owner, second.owner) == (b, c)
    skipped = {s["user_id"]: s["why"] for s in Assignment.objects.get(contact=second).reason["skipped"]}
    assert set(skipped) == {a.pk, b.pk} and "1" in skipped[b.pk]
    actions.set_capacity(c, max_per_day=None, max_open=1)
    third = capture()
    assert third.owner is None and Assignment.objects.get(contact=third).in_queue  # everyone away or full


def test_fewest_open_gives_a_tie_to_the_rep_who_has_waited_longest_since_an_earlier_day() -> None:
    a, b, c = reps(3)
    rule([a, b, c], "fewest_open")
    with time_machine.travel("2026-02-26 10:00 +07:00", tick=False):  # Thursday
        thursday = capture()
    with time_machine.travel("2026-02-27 10:00 +07:00", tick=False):  # Friday: a has an open lead
        friday = capture()
        actions.reassign([thursday.pk, friday.pk], None, actor=None)  # both back to the queue: nobody has one open
    assert (thursday.owner, friday.owner) == (a, b)
    with time_machine.travel(MONDAY_10, tick=False):
        assert capture().owner == c  # never had a lead
    with time_machine.travel("2026-03-02 10:05 +07:00", tick=False):
        assert capture().owner == a  # waiting since Thursday, b since Friday


def test_after_hours_and_on_tet_nobody_is_available() -> None:
    a = reps(1)[0]
    rule([a])
    with time_machine.travel("2026-03-02 22:00 +07:00", tick=False):
        assert capture().owner is None
    with time_machine.travel("2026-02-17 10:00 +07:00", tick=False):  # Tết
        night = capture()
        assert night.owner is None
        why = Assignment.objects.get(contact=night).reason["earlier"][0]["skipped"][0]["why"]
        assert why


def test_rules_must_reach_somebody() -> None:
    empty = Team.objects.create(name="Trống")
    with pytest.raises(RoutingError) as info:
        actions.save_rule(None, {"name": "x", "team": empty}, [])
    assert info.value.field == "members"
    gone = reps(1)[0]
    gone.is_active = False
    gone.save()
    with pytest.raises(RoutingError):
        actions.save_rule(None, {"name": "x"}, [(gone, 1)])
    with pytest.raises(RoutingError) as info:
        actions.save_rule(None, {"name": "x", "conditions": {"field": "colour"}}, [(reps(1, prefix="ok")[0], 1)])
    assert info.value.field == "conditions"


@time_machine.travel(MONDAY_10, tick=False)
def test_a_rep_deleted_later_sends_leads_to_the_queue_with_a_warning() -> None:
    a = reps(1)[0]
    rule([a])
    a.delete()
    contact = capture()
    assert contact.owner is None
    assignment = Assignment.objects.get(contact=contact)
    assert assignment.in_queue and assignment.reason["warning"]


@time_machine.travel(MONDAY_10, tick=False)
def test_a_team_rule_takes_new_team_members_into_the_rotation() -> None:
    team = Team.objects.create(name="Hà Nội")
    a = reps(1, team=team)[0]
    rule([], team=team)
    assert capture().owner == a
    b = User.objects.create_user(username="newbie", role=User.Role.SALES_REP, team=team)
    assert capture().owner == b


@time_machine.travel(MONDAY_10, tick=False)
def test_becoming_sql_hands_the_lead_from_marketing_to_sales() -> None:
    marketer = User.objects.create_user(username="mkt", role=User.Role.SALES_REP)
    seller = reps(1, prefix="sales")[0]
    rule([marketer], name="Marketing")
    stages.active_set_id()
    sql = Stage.objects.get(stage_set__is_active=True, key="sql")
    rule([seller], name="Sales", on_stage=sql)
    contact = capture()
    assert contact.owner == marketer
    set_checklist(contact, {i: ("ok", True) for i in ("budget", "authority", "need")}, actor=None)
    change_stage(contact, to_stage=sql, cause=StageChange.Cause.USER, reason="qualified")
    contact.refresh_from_db()
    assert contact.owner == seller
    assert [a.cause for a in Assignment.objects.filter(contact=contact)] == ["stage", "capture"]
    assert Assignment.objects.filter(contact=contact, is_current=True).count() == 1  # one owner at a time


@time_machine.travel(MONDAY_10, tick=False)
def test_manual_and_bulk_reassignment(admin_user: User) -> None:
    a, b = reps(2)
    rule([a])
    contacts = [capture() for _ in range(3)]
    actions.reassign([c.pk for c in contacts], b, actor=admin_user, note="cover")
    assert set(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("owner", flat=True)) == {b.pk}
    assert Notification.objects.filter(user=b, kind="new_lead").count() == 3


def _policy(**data: Any) -> None:
    defaults = {"name": "5 phút", "first_response_minutes": 5, "remind_before_minutes": 2,
                "reclaim_after_minutes": 30, "escalate": True, "business_hours": True}  # fmt: skip
    actions.save_policy(None, {**defaults, **data})


def test_sla_deadline_in_business_hours_and_a_response_stops_the_clock() -> None:
    a = reps(1)[0]
    rule([a])
    _policy(first_response_minutes=60, remind_before_minutes=10, reclaim_after_minutes=None)
    with time_machine.travel("2026-03-06 17:00 +07:00", tick=False):  # Friday, 30 minutes before closing
        contact = capture()
    assignment = Assignment.objects.get(contact=contact)
    local = timezone.localtime(assignment.due_at)
    assert (local.weekday(), local.hour, local.minute) == (5, 8, 30)  # Saturday morning
    with time_machine.travel("2026-03-07 08:05 +07:00", tick=False):
        log_activity(contact, kind="call", outcome="reached", actor=a)
    assignment.refresh_from_db()
    assert assignment.first_response_at is not None
    with time_machine.travel("2026-03-07 09:00 +07:00", tick=False):
        while process_due_jobs():
            pass
    assignment.refresh_from_db()
    assert assignment.breached_at is None
    assert not Notification.objects.filter(kind__in=["sla_reminder", "sla_breach"]).exists()


def test_no_response_reminds_escalates_then_reclaims() -> None:
    team = Team.objects.create(name="HN")
    boss = User.objects.create_user(username="boss", role=User.Role.MANAGER, team=team)
    team.lead = boss
    team.save()
    a, b = reps(2, team=team)
    rule([a, b])
    _policy()
    start = START
    with time_machine.travel(start, tick=False):
        contact = capture()
    assert contact.owner == a
    assignment = Assignment.objects.get(contact=contact)
    with time_machine.travel(start + timedelta(minutes=3, seconds=1), tick=False):
        process_due_jobs()
    assert Notification.objects.filter(user=a, kind="sla_reminder").count() == 1
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        process_due_jobs()
    assignment.refresh_from_db()
    assert assignment.breached_at and assignment.escalated_to == boss
    assert Notification.objects.filter(user=boss, kind="sla_breach").count() == 1
    with time_machine.travel(start + timedelta(minutes=30, seconds=1), tick=False):
        process_due_jobs()
    contact.refresh_from_db()
    assert contact.owner == b
    current = Assignment.objects.get(contact=contact, is_current=True)
    assert current.cause == "reclaim" and current.reason["reclaimed_from"] == a.display_name
    assert Notification.objects.filter(user=a, kind="reassigned").exists()


def test_an_sla_step_queues_the_next_and_an_answered_lead_leaves_one_timer() -> None:
    a, b = reps(2)
    rule([a, b])
    _policy(business_hours=False)
    with time_machine.travel(START, tick=False):
        answered, ignored = capture(), capture()
    timers = Job.objects.filter(kind="routing.sla").order_by("idempotency_key")
    assert [(t.idempotency_key, t.due_at) for t in timers] == [
        (f"sla:{Assignment.objects.get(contact=c).pk}:remind", START + timedelta(minutes=3))
        for c in (answered, ignored)
    ]
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        log_activity(answered, kind="call", outcome="reached", actor=answered.owner)
    with time_machine.travel(START + timedelta(minutes=3, seconds=1), tick=False):
        process_due_jobs()
    ignored_id = Assignment.objects.get(contact=ignored).pk
    queued = timers.filter(status=Job.Status.QUEUED)
    then = [[(step, datetime.fromisoformat(moment)) for step, moment in t.payload["then"]] for t in queued]
    assert [(t.idempotency_key, t.due_at) for t in queued] == [
        (f"sla:{ignored_id}:breach", START + timedelta(minutes=5))
    ]
    assert then == [[("reclaim", START + timedelta(minutes=30))]]


def test_timers_survive_a_killed_worker() -> None:
    a = reps(1)[0]
    rule([a])
    _policy(remind_before_minutes=0, reclaim_after_minutes=None)
    start = START
    with time_machine.travel(start, tick=False):
        contact = capture()
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        claimed = claim_due_jobs(kinds=["routing.sla"])
        assert claimed  # ... and the worker dies holding them
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        process_due_jobs()
    assert Assignment.objects.get(contact=contact).breached_at is not None
