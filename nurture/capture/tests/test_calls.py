"""Call centre events: find or create the caller, log the call, count the owner's answered call as the first
response; click-to-call from the lead page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.models import User
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources.webhook import sign
from nurture.capture.tests.conftest import connect
from nurture.contacts.actions import capture_lead
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.routing.models import Assignment

pytestmark = pytest.mark.django_db
SECRET = "pbx-secret"
MONDAY_10 = datetime.fromisoformat("2026-03-02T10:00:00+07:00")


@pytest.fixture
def pbx() -> Connection:
    return connect("calls", name="Tổng đài", signing_secret=SECRET)


def call(connection: Connection, **fields: Any) -> Any:
    payload = {"call_id": "c-1", "direction": "inbound", "from": "0912 345 678", "to": "19006868",
               "started_at": "2026-03-02T10:05:00+07:00", "duration": 95,
               "recording_url": "https://pbx.example/rec/c-1.mp3", "agent": "alice", **fields}  # fmt: skip
    raw = json.dumps(payload).encode()
    return Client().post(f"/hooks/capture/{connection.key}", raw, content_type="application/json",
                         headers={"X-Nurture-Signature": sign(SECRET, raw)})  # fmt: skip


def make_lead(owner: User | None, phone: str) -> Contact:
    """A lead captured by a form (so its phone is an identity), owned by `owner`."""
    result = capture_lead(parse_lead({"full_name": "Nguyễn Văn An", "phone": phone}), event_type="form_submitted")
    Contact.objects.filter(pk=result.contact_id).update(owner=owner)
    return Contact.objects.get(pk=result.contact_id)


def assigned(contact: Contact, user: User) -> Assignment:
    Contact.objects.filter(pk=contact.pk).update(owner=user)
    return Assignment.objects.create(contact=contact, user=user, cause="rule", at=MONDAY_10,
                                     due_at=MONDAY_10 + timedelta(minutes=5))  # fmt: skip


def test_an_unknown_caller_becomes_a_contact_with_the_call_on_the_timeline(pbx: Connection, alice: User) -> None:
    response = call(pbx)
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.phone, contact.source) == ("+84912345678", "hotline")
    event = Event.objects.get(contact=contact)
    assert (event.type, event.actor, event.at) == ("call_logged", alice, MONDAY_10 + timedelta(minutes=5))
    assert {k: event.data[k] for k in ("direction", "duration", "recording_url", "agent", "outcome")} == {
        "direction": "inbound", "duration": 95, "recording_url": "https://pbx.example/rec/c-1.mp3",
        "agent": "alice", "outcome": "reached"}  # fmt: skip


def test_the_owners_answered_call_is_the_first_response(pbx: Connection, alice: User, bob: User) -> None:
    lead = make_lead(None, phone="+84912345678")
    assignment = assigned(lead, alice)
    # A missed call, then bob's answered call: the clock keeps running
    call(pbx, call_id="c-1", duration=0)
    call(pbx, call_id="c-2", agent="bob")
    assignment.refresh_from_db()
    assert assignment.first_response_at is None
    # The owner's answered call stops it, at the call's time
    call(pbx, call_id="c-3", agent="alice", started_at="2026-03-02T10:07:00+07:00")
    assignment.refresh_from_db()
    assert assignment.first_response_at == MONDAY_10 + timedelta(minutes=7)
    assert Event.objects.filter(contact=lead, type="call_logged").count() == 3
    assert Contact.objects.count() == 1


def test_an_outbound_call_is_logged_on_the_callee(pbx: Connection, alice: User) -> None:
    lead = make_lead(alice, phone="+84912345678")
    call(pbx, direction="outbound", **{"from": "19006868", "to": "0912345678"})
    assert Event.objects.get(contact=lead, type="call_logged").data["direction"] == "outbound"


def test_bad_calls(pbx: Connection) -> None:
    raw = json.dumps({"call_id": "x", "from": "0912345678"}).encode()
    forged = Client().post(f"/hooks/capture/{pbx.key}", raw, content_type="application/json",
                           headers={"X-Nurture-Signature": sign("guess", raw)})  # fmt: skip
    assert forged.status_code == 401 and not InboundEvent.objects.exists()
    assert call(pbx, call_id="c-9", started_at="yesterday").json()["error"].startswith("started_at:")
    assert call(pbx, call_id="c-10", direction="sideways").status_code == 400
    assert call(pbx, call_id="c-11", **{"from": ""}).json()["error"].startswith("from:")
    assert not Contact.objects.exists()
    assert InboundEvent.objects.filter(status="dead").count() == 3
    assert call(pbx, call_id="c-1").status_code == 200
    assert call(pbx, call_id="c-1").json()["duplicate"] is True


def test_click_to_call_logs_the_attempt_and_counts_as_the_owners_response(alice: User, charlie: User) -> None:
    lead = make_lead(None, phone="+84912345678")
    assignment = assigned(lead, alice)
    rep = Client()
    rep.force_login(alice)
    page = rep.get(f"/contacts/{lead.pk}/").content.decode()
    assert 'href="tel:+84912345678"' in page and f'data-log="/contacts/{lead.pk}/call"' in page
    # An outsider cannot log calls on a lead they cannot see
    outsider = Client()
    outsider.force_login(charlie)
    assert outsider.post(f"/contacts/{lead.pk}/call").status_code == 404
    with time_machine.travel(MONDAY_10 + timedelta(minutes=2), tick=False):
        response = rep.post(f"/contacts/{lead.pk}/call")
    assert response.status_code == 200
    event = Event.objects.get(contact=lead, type="call_logged")
    assert (event.type, event.actor, event.data["outcome"], event.source) == (
        "call_logged",
        alice,
        "attempted",
        "click-to-call",
    )
    assignment.refresh_from_db()
    assert assignment.first_response_at == MONDAY_10 + timedelta(minutes=2)
    assert rep.get(f"/contacts/{lead.pk}/call").status_code == 405
    assert clock.now() > MONDAY_10
