from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from nurture.contacts.actions import EventInput, capture_leads, record_events
from nurture.contacts.conditions import ConditionError, contact_q
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
