from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from nurture.contacts.actions import EventInput, capture_leads, record_events
from nurture.contacts.conditions import ConditionError, contact_predicate, contact_q
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock

pytestmark = pytest.mark.django_db


def test_event_conditions_count_recent_events_and_move_last_activity() -> None:
    with time_machine.travel("2026-03-02 09:00 +07:00", tick=False):
        results = capture_leads(
            [parse_lead({"full_name": f"Khách {i}", "phone": f"091234560{i}", "province": "Huế"}) for i in range(3)],
            event_type=Event.Type.API_CAPTURED,
        )
        a, b, c = (r.contact_id for r in results)
        now = clock.now()
        record_events([
            EventInput(contact_id=a, type="webinar_attended", at=now - timedelta(days=2)),
            EventInput(contact_id=a, type="webinar_attended", at=now - timedelta(days=1)),
            EventInput(contact_id=b, type="webinar_attended", at=now - timedelta(days=1)),
            EventInput(contact_id=c, type="webinar_attended", at=now - timedelta(days=60)),
        ])  # fmt: skip
        twice = {"all": [{"event": "webinar_attended", "within_days": 30, "min_count": 2},
                         {"field": "province", "op": "eq", "value": "huế"}]}  # fmt: skip
        once = {"event": "webinar_attended", "within_days": 30}
        assert list(Contact.objects.filter(contact_q(twice)).values_list("pk", flat=True)) == [a]
        assert set(Contact.objects.filter(contact_q(once)).values_list("pk", flat=True)) == {a, b}
        assert Contact.objects.get(pk=c).last_activity_at == now  # an older event never moves it back


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ConditionError, match=r"any\[1\]\.field: unknown field 'shoe_size'"):
        contact_q({"any": [{"field": "province", "op": "eq", "value": "Huế"}, {"field": "shoe_size", "op": "eq"}]})


def test_several_tag_conditions_can_hold_together() -> None:
    leads = [parse_lead({"full_name": f"Khách {i}", "phone": f"091234570{i}", "tags": tags})
             for i, tags in enumerate([["vip", "ielts"], ["vip"], []])]  # fmt: skip
    both, vip, none = (r.contact_id for r in capture_leads(leads, event_type=Event.Type.API_CAPTURED))

    def matching(condition: dict[str, object]) -> set[int]:
        return set(Contact.objects.filter(contact_q(condition)).values_list("pk", flat=True))

    assert matching({"all": [{"field": "tag", "op": "eq", "value": "vip"},
                             {"field": "tag", "op": "eq", "value": "ielts"}]}) == {both}  # fmt: skip
    assert matching({"field": "tag", "op": "in", "value": ["vip", "ielts"]}) == {both, vip}
    assert matching({"field": "tag", "op": "ne", "value": "vip"}) == {none}


def test_a_bad_window_names_its_key() -> None:
    with pytest.raises(ConditionError, match=r"^all\[0\]\.within_days: expected a number"):
        contact_q({"all": [{"event": "webinar_attended", "within_days": "soon"}]})


CONDITIONS_IN_MEMORY: list[dict[str, Any]] = [
    {"field": "province", "op": "eq", "value": "hà nội"},
    {"field": "province", "op": "ne", "value": "Hà Nội"},
    {"field": "province", "op": "in", "value": ["Hà Nội", "Huế"]},
    {"field": "province", "op": "not_in", "value": ["Hà Nội", "Huế"]},
    {"field": "need", "op": "contains", "value": "IELTS"},
    {"field": "source", "op": "starts_with", "value": "FACE"},
    {"field": "industry", "op": "is_empty"},
    {"field": "industry", "op": "is_not_empty"},
    {"field": "company", "op": "eq", "value": "acme"},
    {"field": "company", "op": "ne", "value": "Acme"},
    {"field": "company", "op": "is_empty"},
    {"field": "owner", "op": "eq", "value": "lan"},
    {"field": "owner", "op": "not_in", "value": ["lan"]},
    {"field": "stage", "op": "eq", "value": "lead"},
    {"field": "full_name", "op": "contains", "value": "Thị"},
    {"field": "email_domain", "op": "eq", "value": "Example.vn"},
    {"field": "email_domain", "op": "not_in", "value": ["example.vn", "@acme.com"]},
    {"field": "score", "op": "gte", "value": 10},
    {"field": "score", "op": "ne", "value": 0},
    {"field": "fit_score", "op": "in", "value": [0, 15]},
    {"field": "band", "op": "eq", "value": "cold"},
    {
        "any": [
            {"field": "province", "op": "eq", "value": "Huế"},
            {"not": {"field": "source", "op": "eq", "value": "zalo"}},
        ]
    },
    {"all": [{"field": "province", "op": "is_not_empty"}, {"field": "score", "op": "lt", "value": 50}]},
]


def test_conditions_tested_in_memory_answer_as_the_database_does() -> None:
    # Given contacts with and without each value (a company, an owner, an email, empty fields)
    from nurture.accounts.models import User

    lan = User.objects.create_user(username="lan", role=User.Role.SALES_REP)
    rows = [
        {"full_name": "Nguyễn Thị Lan", "phone": "0912000001", "province": "Hà Nội", "need": "Luyện IELTS 7.0",
         "source": "facebook", "company": "Acme", "email": "lan@example.vn"},
        {"full_name": "Trần Văn Nam", "phone": "0912000002", "province": "Huế", "source": "zalo",
         "industry": "Giáo dục", "email": "nam@ACME.com"},
        {"full_name": "Lê Hoa", "phone": "0912000003", "source": "Facebook Ads", "company": "Beta"},
        {"full_name": "Phạm Minh", "phone": "0912000004", "province": "Đà Nẵng", "need": "ielts cấp tốc"},
    ]  # fmt: skip
    ids = [r.contact_id for r in capture_leads([parse_lead(r) for r in rows], event_type=Event.Type.API_CAPTURED)]
    Contact.objects.filter(pk=ids[0]).update(owner=lan, score=15, fit_score=15)
    Contact.objects.filter(pk=ids[1]).update(score=60)
    contacts = list(Contact.objects.filter(pk__in=ids).select_related("company", "stage", "owner"))

    for condition in CONDITIONS_IN_MEMORY:
        # When the condition is tested in memory and asked of the database
        test = contact_predicate(condition)
        assert test is not None, condition
        in_memory = {c.pk for c in contacts if test(c)}
        in_sql = set(Contact.objects.filter(pk__in=ids).filter(contact_q(condition)).values_list("pk", flat=True))
        # Then both pick the same contacts
        assert in_memory == in_sql, condition


def test_conditions_that_need_the_database_have_no_in_memory_test() -> None:
    for condition in (
        {"field": "tag", "op": "eq", "value": "vip"},
        {"event": "webinar_attended"},
        {"field": "created_at", "op": "within_days", "value": 3},
        {"field": "custom.lang", "op": "eq", "value": "vi"},
        {"all": [{"field": "province", "op": "eq", "value": "Huế"}, {"field": "tag", "op": "eq", "value": "vip"}]},
    ):
        assert contact_predicate(condition) is None, condition
    with pytest.raises(ConditionError):
        contact_predicate({"field": "shoe_size", "op": "eq", "value": 42})
