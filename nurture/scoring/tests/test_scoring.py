"""Points rules, caps, decay, bands, the ledger and re-scoring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nurture.contacts.actions import EventInput, capture_leads, record_events, update_contact
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.jobs import process_due_jobs
from nurture.scoring import actions
from nurture.scoring.actions import RuleError, decayed, rounded
from nurture.scoring.models import PointsRule, RescoreRun, ScoreEntry, ScoringSettings

pytestmark = pytest.mark.django_db
T0 = "2026-03-02 09:00 +07:00"  # a Monday


def capture(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED, source_label="api")[0]
    return Contact.objects.get(pk=result.contact_id)


def rule(**fields: Any) -> PointsRule:
    now = clock.now()
    defaults = {"name": fields.get("event_type", "rule"), "kind": PointsRule.Kind.BEHAVIOUR}
    return PointsRule.objects.create(**{**defaults, **fields}, created_at=now,
                                     updated_at=now)  # fmt: skip


def event(contact: Contact, type: str, **data: Any) -> Event:
    return record_events([EventInput(contact_id=contact.pk, type=type, data=data)])[0]


def from_ledger(contact: Contact) -> tuple[int, float]:
    """What the ledger says the contact's fit and engagement are now."""
    config = actions.scoring_settings()
    now = clock.now()
    fit, engagement = 0, 0.0
    for entry in ScoreEntry.objects.filter(contact=contact, voided_at__isnull=True):
        if entry.dimension == ScoreEntry.Dimension.FIT:
            fit += entry.points
        else:
            engagement += decayed(entry.points, entry.at, now, config.half_life_days)
    return fit, engagement


@time_machine.travel(T0, tick=False)
def test_behaviour_rule_scores_the_event_with_its_conditions() -> None:
    rule(event_type="page_viewed", conditions=[{"field": "data.url", "op": "contains", "value": "/bang-gia"}],
         points=10)  # fmt: skip
    contact = capture(full_name="Lê Văn Tám", phone="0912345678")
    event(contact, "page_viewed", url="https://sao-mai.vn/bang-gia")
    event(contact, "page_viewed", url="https://sao-mai.vn/blog")
    contact.refresh_from_db()
    assert (contact.engagement_score, contact.score) == (10.0, 10)
    entry = ScoreEntry.objects.select_related("event").get(contact=contact)
    assert entry.event is not None
    assert (entry.rule_name, entry.points, entry.event.data["url"]) == (
        "page_viewed",
        10,
        "https://sao-mai.vn/bang-gia",
    )


def test_cap_per_week_counts_calendar_weeks_in_local_time() -> None:
    rule(event_type="email_opened", points=5, cap=3, cap_period=PointsRule.Period.WEEK)
    with time_machine.travel(T0, tick=False):
        contact = capture(full_name="Lê Văn Tám", phone="0912345678")
        for _ in range(5):
            event(contact, "email_opened")
    assert ScoreEntry.objects.filter(contact=contact).count() == 3
    with time_machine.travel("2026-03-09 00:30 +07:00", tick=False):  # Monday after, local time
        event(contact, "email_opened")
    assert ScoreEntry.objects.filter(contact=contact).count() == 4


def test_attribute_rules_follow_the_contact_and_the_ledger_keeps_both_moves() -> None:
    rule(kind=PointsRule.Kind.ATTRIBUTE, name="Hà Nội", conditions={"field": "province", "op": "eq", "value": "Hà Nội"},
         points=15)  # fmt: skip
    rule(kind=PointsRule.Kind.ATTRIBUTE, name="Competitor", points=-50,
         conditions={"field": "email_domain", "op": "in", "value": ["doithu.vn"]})  # fmt: skip
    contact = capture(full_name="Phạm Thu Hà", phone="0912345678", province="Hà Nội")
    assert (contact.fit_score, contact.score) == (15, 15)
    update_contact(contact, changes={"province": "Đà Nẵng", "email": "ha@doithu.vn"}, actor=None)
    contact.refresh_from_db()
    assert contact.fit_score == -50
    assert sorted(ScoreEntry.objects.filter(contact=contact).values_list("rule_name", "points")) == [
        ("Competitor", -50), ("Hà Nội", -15), ("Hà Nội", 15),
    ]  # fmt: skip


def test_engagement_decays_by_half_life_and_bands_follow() -> None:
    ScoringSettings.objects.create(pk=1, half_life_days=10, hot=60, warm=30)
    rule(event_type="webinar_attended", points=80)
    with time_machine.travel(T0, tick=False):
        contact = capture(full_name="Lê Văn Tám", phone="0912345678")
        event(contact, "webinar_attended")
        contact.refresh_from_db()
        assert (contact.score, contact.band) == (80, Contact.Band.HOT)
    with time_machine.travel("2026-03-12 09:00 +07:00", tick=False):
        actions.decay_all()
        contact.refresh_from_db()
        assert contact.engagement_score == pytest.approx(40.0)
        assert (contact.score, contact.band) == (40, Contact.Band.WARM)
        assert actions.explain(contact) == [actions.Contribution("webinar_attended", "engagement", 40.0)]


def test_changing_a_rule_rescores_everyone_in_the_background(admin_user: Any) -> None:
    with time_machine.travel(T0, tick=False):
        contacts = [capture(full_name=f"Khách {i}", phone=f"09123456{i:02d}") for i in range(5)]
        for c in contacts[:3]:
            event(c, "form_submitted_demo")
        assert Contact.objects.filter(score__gt=0).count() == 0  # no rule yet
        demo = {"name": "Demo form", "kind": "behaviour", "event_type": "form_submitted_demo", "points": 10}
        saved, run = actions.save_rule(None, demo, actor=admin_user)
        process_due_jobs()
        run.refresh_from_db()
        assert (run.status, run.processed, run.entries) == (RescoreRun.Status.DONE, 5, 3)
        assert sorted(Contact.objects.values_list("score", flat=True)) == [0, 0, 10, 10, 10]
        actions.save_rule(saved, {"points": 25}, actor=admin_user)
        process_due_jobs()
        assert sorted(Contact.objects.values_list("score", flat=True)) == [0, 0, 25, 25, 25]
        assert ScoreEntry.objects.filter(voided_at__isnull=False).count() == 3  # the old rows stay, voided
        actions.delete_rule(saved, actor=admin_user)
        process_due_jobs()
        assert sorted(Contact.objects.values_list("score", flat=True)) == [0, 0, 0, 0, 0]


def test_rescore_applies_caps_set_based() -> None:
    with time_machine.travel(T0, tick=False):
        contact = capture(full_name="Lê Văn Tám", phone="0912345678")
        for _ in range(4):
            event(contact, "email_opened")
        saved = rule(event_type="email_opened", points=5, cap=2, cap_period=PointsRule.Period.DAY)
        actions.rescore(RescoreRun.objects.create(created_at=clock.now()), [saved.pk])
        contact.refresh_from_db()
    assert contact.score == 10


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "kind": "behaviour", "event_type": "x", "points": 5}, "name"),
        ({"name": "a", "kind": "behaviour", "event_type": "", "points": 5}, "event_type"),
        ({"name": "a", "kind": "behaviour", "event_type": "x", "points": 0}, "points"),
        ({"name": "a", "kind": "attribute", "points": 5, "conditions": {"field": "shoe", "op": "eq", "value": 1}},
         "conditions"),
        ({"name": "a", "kind": "attribute", "points": 5, "conditions": {"field": "band", "op": "gt", "value": 9}},
         "conditions"),
        ({"name": "a", "kind": "behaviour", "event_type": "x", "points": 5, "cap": 0}, "cap"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as raised:
        actions.save_rule(None, data, actor=None)
    assert raised.value.field == field
    assert not PointsRule.objects.exists() and not RescoreRun.objects.exists()


steps = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.sampled_from(["email_opened", "page_viewed", "webinar_attended"])),
        st.tuples(st.just("wait"), st.floats(min_value=0.01, max_value=40)),
        st.tuples(st.just("province"), st.sampled_from(["Hà Nội", "Huế", ""])),
        st.tuples(st.just("decay"), st.none()),
        st.tuples(st.just("rescore"), st.none()),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, half_life=st.sampled_from([0.0, 3.0, 30.0]))
def test_stored_score_always_equals_the_ledger_with_decay(steps: list[tuple[str, Any]], half_life: float) -> None:
    ScoringSettings.objects.update_or_create(pk=1, defaults={"half_life_days": half_life})
    rules = [
        rule(event_type="email_opened", points=5, cap=3, cap_period=PointsRule.Period.WEEK),
        rule(event_type="page_viewed", points=2),
        rule(event_type="webinar_attended", points=15),
        rule(kind=PointsRule.Kind.ATTRIBUTE, name="HN", conditions={"field": "province", "op": "eq", "value": "Hà Nội"},
             points=20),
    ]  # fmt: skip
    traveller = time_machine.travel(T0, tick=False)
    moved = traveller.start()
    try:
        contact = capture(full_name="Lê Văn Tám", phone="0912345678")
        for kind, arg in steps:
            if kind == "event":
                event(contact, arg)
            elif kind == "wait":
                moved.shift(timedelta(days=arg))
            elif kind == "province":
                update_contact(contact, changes={"province": arg}, actor=None)
            elif kind == "decay":
                actions.decay_all()
            else:
                actions.rescore(RescoreRun.objects.create(created_at=clock.now()), [r.pk for r in rules])
            contact.refresh_from_db()
            fit, engagement = from_ledger(contact)
            assert contact.fit_score == fit
            stored_now = decayed(contact.engagement_score, contact.scored_at or clock.now(), clock.now(), half_life)
            assert stored_now == pytest.approx(engagement, rel=1e-6, abs=1e-6)
            assert contact.score == rounded(contact.fit_score + contact.engagement_score)
    finally:
        traveller.stop()
        Contact.objects.all().delete()
        PointsRule.objects.all().delete()
