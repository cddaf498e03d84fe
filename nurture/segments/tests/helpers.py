from __future__ import annotations

from typing import Any

from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.lifecycle import stages

WEBINAR_NOT_CUSTOMER = {
    "all": [
        {"event": "webinar_attended", "within_days": 30},
        {"not": {"field": "stage", "op": "eq", "value": "customer"}},
    ]
}


def capture(owner: User | None = None, stage: str = "", **fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED, source_label="api")[0]
    changes: dict[str, Any] = {"owner": owner}
    if stage:
        changes["stage_id"] = stages.stage_id(stage)
    Contact.objects.filter(pk=result.contact_id).update(**changes)
    return Contact.objects.select_related("stage", "owner").get(pk=result.contact_id)


def segment_events(**filters: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """(contact, type, data) of every segment event, in a stable order."""
    rows = Event.objects.filter(type__in=[Event.Type.SEGMENT_ENTERED, Event.Type.SEGMENT_LEFT], **filters)
    return sorted(rows.values_list("contact_id", "type", "data"), key=lambda r: (r[0], r[1]))
