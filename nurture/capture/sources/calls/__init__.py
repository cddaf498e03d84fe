"""Call centre / hotline: the switchboard posts one JSON event per call, signed like the generic webhook
(HMAC-SHA256, `X-Nurture-Signature: sha256=<hex>`):

    {"call_id": "...", "direction": "inbound", "from": "0912...", "to": "1900...",
     "started_at": "2026-03-02T09:15:00+07:00", "duration": 95, "recording_url": "https://...", "agent": "alice"}

The caller (or, outbound, the callee) is found or created by phone and the call goes on the timeline. The
agent is a user's username, email or phone; an answered call by the lead's owner is their first response."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime

from nurture.accounts.models import User
from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import answer, json_object, try_sample
from nurture.capture.sources.webhook import SIGNATURE_HEADER, event_key, sign, unreadable, verified
from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.normalise import NormalisationError, normalize_phone
from nurture.routing.actions import responded

CALL_KEYS = ("call_id", "direction", "from", "to", "started_at", "duration", "recording_url", "agent")
DIRECTIONS = ("inbound", "outbound")


def _started(raw: Any) -> datetime:
    if isinstance(raw, int | float) or (isinstance(raw, str) and raw.isdigit()):
        return datetime.fromtimestamp(int(raw), tz=UTC)
    parsed = parse_datetime(str(raw or ""))
    if parsed is None or parsed.tzinfo is None:
        raise actions.Unmappable("started_at: an ISO 8601 time with its offset, or a Unix timestamp")
    return parsed


def find_agent(agent: str) -> User | None:
    if not agent:
        return None
    match = Q(username=agent) | Q(email__iexact=agent)
    try:
        match |= Q(phone=normalize_phone(agent))
    except NormalisationError:
        pass  # an extension number or a name: username and email only
    return User.objects.filter(match, is_active=True).order_by("pk").first()


class CallSource:
    FIELDS: tuple[str, ...] = ("signing_secret",)

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        if not verified(request, connection):
            return HttpResponse(status=401)
        payload = json_object(request.body)
        if payload is None:
            return unreadable(request, connection, "call")
        key = str(payload.get("call_id") or event_key(request, payload))
        return answer(actions.receive_now(connection, key=key, payload=payload, kind="call"))

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        return {k: v for k, v in actions.flatten(event.payload).items() if k not in CALL_KEYS}

    def process(self, event: InboundEvent) -> int | None:
        connection, call = event.connection, event.payload
        direction = str(call.get("direction") or "inbound")
        if direction not in DIRECTIONS:
            raise actions.Unmappable("direction: inbound or outbound")
        customer = call.get("from") if direction == "inbound" else call.get("to")
        if not customer:
            raise actions.Unmappable(f"{'from' if direction == 'inbound' else 'to'}: the customer's number is missing")
        try:
            duration = int(call.get("duration") or 0)
        except (TypeError, ValueError):
            raise actions.Unmappable("duration: a number of seconds") from None
        started = _started(call.get("started_at"))
        agent = find_agent(str(call.get("agent") or ""))
        lead = actions.lead_from_fields(connection, {**self.fields(event), "phone": str(customer)}, {
            "source": connection.source or "hotline", "campaign": connection.campaign,
        })  # fmt: skip
        lead.occurred_at = started
        lead.event_data = {
            "direction": direction, "from": str(call.get("from") or ""), "to": str(call.get("to") or ""),
            "duration": duration, "recording_url": str(call.get("recording_url") or ""),
            "agent": str(call.get("agent") or ""), "call_id": event.key,
            "outcome": "reached" if duration > 0 else "no_answer",
        }  # fmt: skip
        result = actions.capture_lead(
            lead, event_type=Event.Type.CALL_LOGGED, actor=agent, source_label=f"calls:{connection.name}"[:100]
        )
        # Routing may have just given a new caller to this very agent, inside the capture.
        if agent is not None and duration > 0 and Contact.objects.filter(pk=result.contact_id, owner=agent).exists():
            responded(result.contact_id, agent, started)
        return result.contact_id

    def check(self, connection: Connection) -> str:
        body = json.dumps({"call_id": "nurture-test", "direction": "inbound", "from": "0912000333", "to": "1900",
                           "started_at": "2026-01-01T09:00:00+07:00", "duration": 30}).encode()  # fmt: skip
        return try_sample(connection, body, {SIGNATURE_HEADER: sign(connection.signing_secret, body)})


SOURCE = CallSource()


def log_call_attempt(contact: Contact, *, actor: User) -> Event:
    """A rep clicked the lead's number (click-to-call): the outbound attempt goes on the timeline, and the
    owner dialling counts as their first response, as a logged call does."""
    now = clock.now()
    with transaction.atomic():
        event = record_events([EventInput(
            contact_id=contact.pk, type=Event.Type.CALL_LOGGED, at=now, source="click-to-call",
            data={"direction": "outbound", "outcome": "attempted", "to": contact.phone},
        )], actor=actor)[0]  # fmt: skip
        responded(contact.pk, actor, now)
    return event
