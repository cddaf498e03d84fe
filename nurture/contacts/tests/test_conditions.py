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
