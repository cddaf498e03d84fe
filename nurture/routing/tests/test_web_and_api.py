"""Routing pages, the lead page's follow-up card, and the routing API."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.routing import actions
from nurture.routing.models import Assignment, AssignmentRule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("monday")]


@pytest.fixture
def monday() -> Any:
    with time_machine.travel("2026-03-02 10:00 +07:00", tick=False):
        yield


def capture(phone: str, **fields: Any) -> Contact:
    result = capture_leads([parse_lead({"full_name": "Lê Thị Hoa", "phone": phone, **fields})],
                           event_type=Event.Type.FORM_SUBMITTED, source_label="form")[0]  # fmt: skip
    return Contact.objects.get(pk=result.contact_id)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rule_form_saves_members_weights_and_refuses_a_bad_condition(admin_client: Client, alice: User,
                                                                     bob: User) -> None:  # fmt: skip
    form = {
        "name": "x",
        "priority": 1,
        "strategy": "weighted",
        "conditions": '{"field": "colour"}',
        "members": [alice.pk],
    }
    bad = admin_client.post("/routing/rules/new", form)
    assert bad.status_code == 200 and "colour" in bad.content.decode()
    ok = admin_client.post("/routing/rules/new", {
        "name": "Hà Nội", "priority": 1, "strategy": "weighted", "members": [alice.pk, bob.pk],
        "weights": "alice=3", "conditions": '{"field": "province", "op": "eq", "value": "Hà Nội"}', "is_active": "on",
    })  # fmt: skip
    assert ok.status_code == 302
    rule = AssignmentRule.objects.get()
    assert {(m.user.username, m.weight) for m in rule.members.all()} == {("alice", 3), ("bob", 1)}
    page = admin_client.get("/routing/").content.decode()
    assert "Hà Nội" in page and 'id="capacity"' in page
    assert logged_in(alice).get("/routing/").status_code == 403


def test_my_leads_puts_unanswered_first_and_two_clicks_log_a_call(alice: User) -> None:
    actions.save_rule(None, {"name": "All"}, [(alice, 1)])
    actions.save_policy(None, {"name": "30'", "first_response_minutes": 30})
    answered, waiting = capture("0912000001"), capture("0912000002")
    client = logged_in(alice)
    client.post(f"/contacts/{answered.pk}/log", {"kind": "call", "outcome": "reached"})
    assert Assignment.objects.get(contact=answered).first_response_at is not None
    page = client.get("/leads/mine").content.decode()
    assert page.index(f"/contacts/{waiting.pk}/") < page.index(f"/contacts/{answered.pk}/")
    detail = client.get(f"/contacts/{waiting.pk}/").content.decode()
    assert 'id="routing"' in detail and 'id="sla-due"' in detail and 'data-log="call"' in detail
    assert client.post(f"/contacts/{waiting.pk}/log", {"kind": "call", "outcome": "held"}).status_code == 302
    assert Assignment.objects.get(contact=waiting).first_response_at is None  # a meeting outcome for a call: refused


def test_queue_bulk_assign_and_uncared(admin_client: Client, alice: User) -> None:
    actions.save_rule(None, {"name": "Only Huế", "conditions": {"field": "province", "op": "eq", "value": "Huế"}},
                      [(alice, 1)])  # fmt: skip
    stray = capture("0912000003", province="Cà Mau")
    queue = admin_client.get("/leads/queue").content.decode()
    assert f"/contacts/{stray.pk}/" in queue
    done = admin_client.post("/leads/assign", {"contacts": [stray.pk], "user": alice.pk, "next": "/leads/queue"})
    assert done.status_code == 302
    stray.refresh_from_db()
    assert stray.owner == alice
    assert admin_client.get("/leads/uncared", {"days": 1}).status_code == 200
    refused = admin_client.post("/leads/assign", {"contacts": [999999], "user": alice.pk}, follow=True)
    assert "999999" in refused.content.decode()


def test_a_rep_may_pass_on_their_own_lead_but_not_take_others(alice: User, bob: User, charlie: User) -> None:
    actions.save_rule(None, {"name": "All"}, [(alice, 1)])
    lead = capture("0912000004")
    assert logged_in(alice).post(f"/contacts/{lead.pk}/assign", {"user": bob.pk}).status_code == 302
    lead.refresh_from_db()
    assert lead.owner == bob
    assert logged_in(charlie).post(f"/contacts/{lead.pk}/assign", {"user": charlie.pk}).status_code == 404


def test_report_page(admin_client: Client, alice: User) -> None:
    actions.save_rule(None, {"name": "All"}, [(alice, 1)])
    capture("0912000005")
    page = admin_client.get("/routing/report").content.decode()
    assert 'id="report-reps"' in page and alice.display_name in page


@pytest.fixture
def writer(admin_user: User) -> Client:
    _key, raw = create_api_key(name="r", scopes=["contacts:read", "contacts:write", "routing:write"],
                               created_by=admin_user)  # fmt: skip
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_api_rules_assign_activities_and_report(writer: Client, api: Client, alice: User, bob: User) -> None:
    bad = writer.post("/api/v1/routing/rules", {"name": "x", "members": [{"user_id": 987654}]},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "members", "0", "user_id"]
    empty = writer.post("/api/v1/routing/rules", {"name": "x"}, content_type="application/json")
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "members"]
    assert api.post("/api/v1/routing/rules", {"name": "x"}, content_type="application/json").status_code == 403
    made = writer.post("/api/v1/routing/rules", {"name": "All", "members": [{"user_id": alice.pk, "weight": 2}],
                                                 "strategy": "weighted"}, content_type="application/json")  # fmt: skip
    assert made.status_code == 201 and made.json()["members"] == [{"user_id": alice.pk, "weight": 2}]
    late = {"name": "p", "first_response_minutes": 10, "remind_before_minutes": 10}
    policy = writer.post("/api/v1/routing/policies", late, content_type="application/json")
    assert policy.status_code == 422 and policy.json()["detail"][0]["loc"] == ["body", "remind_before_minutes"]

    lead = capture("0912000006")
    history = writer.get(f"/api/v1/contacts/{lead.pk}/assignments").json()
    assert history[0]["user_id"] == alice.pk and history[0]["reason"]["rule"] == "All"
    moved = writer.post(f"/api/v1/contacts/{lead.pk}/assign", {"user_id": bob.pk}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["cause"] == "manual"
    bulk = writer.post("/api/v1/routing/assign", {"contact_ids": [lead.pk, 424242], "user_id": alice.pk},
                       content_type="application/json")  # fmt: skip
    assert bulk.status_code == 422 and bulk.json()["detail"][0]["loc"] == ["body", "contact_ids", "1"]
    lead.refresh_from_db()
    assert lead.owner == bob  # nothing written
    wrong = writer.post(f"/api/v1/contacts/{lead.pk}/activities", {"kind": "call", "outcome": "sent"},
                        content_type="application/json")  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "outcome"]
    logged = writer.post(f"/api/v1/contacts/{lead.pk}/activities", {"kind": "call", "outcome": "reached"},
                         content_type="application/json")  # fmt: skip
    assert logged.status_code == 201
    report = writer.get("/api/v1/routing/report").json()
    assert {r["name"] for r in report["reps"]} == {alice.display_name, bob.display_name}
