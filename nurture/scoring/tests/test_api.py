from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.scoring.models import PointsRule, ScoreEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(admin_user: User) -> Client:
    scopes = ["leads:write", "contacts:read", "events:write", "scoring:write"]
    _key, raw = create_api_key(name="scoring", scopes=scopes, created_by=admin_user)
    return Client(headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def test_rules_events_and_why_this_score(client: Client) -> None:
    contact_id = send(client, "post", "/api/v1/leads", {"full_name": "Lê Văn Tám", "phone": "0912345678"}).json()[
        "contact_id"
    ]
    created = send(client, "post", "/api/v1/scoring/rules", {
        "name": "Price page", "kind": "behaviour", "event_type": "page_viewed", "points": 10,
        "conditions": [{"field": "data.url", "op": "contains", "value": "bang-gia"}],
    })  # fmt: skip
    assert created.status_code == 201, created.content
    rule_id, run_id = created.json()["id"], created.json()["rescore_run_id"]
    process_due_jobs()
    assert send(client, "get", f"/api/v1/scoring/runs/{run_id}").json()["status"] == "done"
    events = send(client, "post", "/api/v1/events", {"events": [
        {"phone": "+84 912 345 678", "type": "page_viewed", "properties": {"url": "/bang-gia"}},
        {"contact_id": contact_id, "type": "page_viewed", "properties": {"url": "/blog"}},
    ]})  # fmt: skip
    assert events.status_code == 201, events.content
    score = send(client, "get", f"/api/v1/contacts/{contact_id}/score").json()
    assert (score["score"], score["band"]) == (10, "cold")
    assert score["contributions"] == [{"rule": "Price page", "dimension": "engagement", "points": 10.0}]
    assert [e["points"] for e in score["ledger"]] == [10]
    patched = send(client, "patch", f"/api/v1/scoring/rules/{rule_id}", {"points": 40})
    assert patched.status_code == 200
    process_due_jobs()
    assert Contact.objects.get(pk=contact_id).score == 40
    settings = send(client, "put", "/api/v1/scoring/settings", {"half_life_days": 30, "hot": 35, "warm": 20})
    assert settings.status_code == 200
    process_due_jobs()
    assert Contact.objects.get(pk=contact_id).band == "hot"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "x", "kind": "behaviour", "points": 5}, ["body", "event_type"]),
        ({"name": "x", "kind": "attribute", "points": 5, "conditions": {"field": "nope", "op": "eq", "value": 1}},
         ["body", "conditions"]),
        ({"name": "x", "kind": "sideways", "points": 5}, ["body", "kind"]),
    ],
)  # fmt: skip
def test_bad_rules_get_422_naming_the_field(client: Client, body: dict[str, Any], loc: list[str]) -> None:
    response = send(client, "post", "/api/v1/scoring/rules", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert not PointsRule.objects.exists()


def test_a_bad_event_rejects_the_whole_batch(client: Client) -> None:
    send(client, "post", "/api/v1/leads", {"full_name": "Lê Văn Tám", "phone": "0912345678"})
    response = send(client, "post", "/api/v1/events", {"events": [
        {"phone": "0912345678", "type": "page_viewed"},
        {"email": "nobody@example.com", "type": "page_viewed"},
        {"phone": "0912345678", "type": "Bad Type"},
    ]})  # fmt: skip
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [["body", "events", "1", "email"],
                                                             ["body", "events", "2", "type"]]  # fmt: skip
    assert not Event.objects.filter(type="page_viewed").exists() and not ScoreEntry.objects.exists()


def test_a_rep_cannot_change_rules(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    response = send(client, "post", "/api/v1/scoring/rules", {"name": "x", "kind": "behaviour", "event_type": "y",
                                                              "points": 1})  # fmt: skip
    assert response.status_code == 403


def test_control_characters_never_reach_the_database(client: Client) -> None:
    created = send(client, "post", "/api/v1/leads", {"full_name": "Lê\x00 Văn Tám", "phone": "0912345678",
                                                     "job_title": "Giám\x00 đốc\x07"})  # fmt: skip
    assert created.status_code in (200, 201), created.content
    contact = Contact.objects.get(pk=created.json()["contact_id"])
    assert (contact.full_name, contact.job_title) == ("Lê Văn Tám", "Giám đốc")
    response = send(client, "post", "/api/v1/events", {"events": [
        {"contact_id": contact.pk, "type": "page_viewed", "properties": {"url": "/a\x00b"}},
    ]})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", "0", "properties"]
