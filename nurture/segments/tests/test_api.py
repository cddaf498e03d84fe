from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.segments.models import Segment, SegmentMember
from nurture.segments.tests.helpers import WEBINAR_NOT_CUSTOMER, capture, segment_events

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 09:00 +07:00"


def key_client(user: User, scopes: list[str]) -> Client:
    _key, raw = create_api_key(name="segments", scopes=scopes, created_by=user)
    return Client(headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})


@pytest.fixture
def client(admin_user: User) -> Client:
    return key_client(admin_user, ["contacts:read", "segments:write"])


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def attendees() -> list[Contact]:
    with time_machine.travel(NOW, tick=False):
        people = [capture(full_name=f"Khách {i}", phone=f"091234560{i}") for i in range(3)]
        record_events([EventInput(contact_id=c.pk, type="webinar_attended", at=clock.now() - timedelta(days=2))
                       for c in people])  # fmt: skip
    return people


@time_machine.travel(NOW, tick=False)
def test_segment_crud_count_and_members(client: Client, attendees: list[Contact]) -> None:
    # When a dynamic segment is created
    created = send(client, "post", "/api/v1/segments", {"name": "Webinar", "conditions": WEBINAR_NOT_CUSTOMER})
    assert created.status_code == 201, created.content
    segment_id = created.json()["id"]
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "id": segment_id, "name": "Webinar", "description": "", "kind": "dynamic", "conditions": WEBINAR_NOT_CUSTOMER,
        "member_count": 0, "refreshed_at": None, "created_at": None, "updated_at": None,
    }  # fmt: skip
    # Then it is listed, counted live, refreshed by the worker, and its members are paged by cursor
    assert [s["id"] for s in send(client, "get", "/api/v1/segments").json()] == [segment_id]
    assert send(client, "get", f"/api/v1/segments/{segment_id}/count").json()["count"] == 3
    process_due_jobs()
    counted = send(client, "get", f"/api/v1/segments/{segment_id}/count").json()
    assert (counted["count"], counted["member_count"]) == (3, 3) and counted["refreshed_at"] is not None
    first = send(client, "get", f"/api/v1/segments/{segment_id}/members?limit=2").json()
    second = send(client, "get", f"/api/v1/segments/{segment_id}/members?limit=2&cursor={first['next_cursor']}").json()
    newest_first = [c.pk for c in reversed(attendees)]
    assert [c["id"] for c in first["items"]] == newest_first[:2] and second["next_cursor"] is None
    assert [c["id"] for c in second["items"]] == newest_first[2:]
    assert first["items"][0]["full_name"] == "Khách 2"
    # When its condition is replaced, then the new one counts
    hot = {"name": "Hot", "description": "score ≥ 50", "conditions": {"field": "score", "op": "gte", "value": 50}}
    replaced = send(client, "put", f"/api/v1/segments/{segment_id}", hot)
    assert replaced.status_code == 200 and replaced.json()["name"] == "Hot"
    assert send(client, "get", f"/api/v1/segments/{segment_id}").json()["description"] == "score ≥ 50"
    assert send(client, "get", f"/api/v1/segments/{segment_id}/count").json()["count"] == 0
    # When it is deleted, then it is gone
    assert send(client, "delete", f"/api/v1/segments/{segment_id}").status_code == 204
    assert send(client, "get", f"/api/v1/segments/{segment_id}").status_code == 404
    assert not SegmentMember.objects.exists()


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        ({"name": "x", "conditions": {"any": [{"field": "province", "op": "eq", "value": "Huế"},
                                              {"field": "shoe_size", "op": "eq", "value": 1}]}},
         ["body", "conditions", "any", 1, "field"], "any[1].field: unknown field 'shoe_size'"),
        ({"name": "x", "conditions": {"all": [{"event": "webinar_attended", "min_count": 0}]}},
         ["body", "conditions", "all", 0, "min_count"], "all[0].min_count: expected a whole number of at least 1"),
        ({"name": "x", "conditions": {}}, ["body", "conditions"], "a dynamic segment needs a condition"),
        ({"name": "", "conditions": WEBINAR_NOT_CUSTOMER}, ["body", "name"], "a segment needs a name"),
        ({"name": "x", "kind": "static", "conditions": WEBINAR_NOT_CUSTOMER}, ["body", "conditions"],
         "a static list has no conditions: its members are added by hand"),
    ],
)  # fmt: skip
def test_invalid_segments_get_422_naming_the_part(
    client: Client, body: dict[str, Any], loc: list[Any], msg: str
) -> None:
    # When an invalid segment is posted, then 422 names the field (and the condition's part), nothing is written
    response = send(client, "post", "/api/v1/segments", body)
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": loc, "type": "invalid", "msg": msg}]
    assert not Segment.objects.exists() and not Job.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_static_list_members_all_or_nothing(client: Client, attendees: list[Contact]) -> None:
    # Given a static list
    created = send(client, "post", "/api/v1/segments", {"name": "Call back", "kind": "static"})
    url = f"/api/v1/segments/{created.json()['id']}/members"
    a, b, c = (x.pk for x in attendees)
    # When ids with unknown ones are added, then 422 names each index and nothing is written
    refused = send(client, "post", url, {"contact_ids": [a, 999_998, b, 999_999]})
    assert refused.status_code == 422
    assert [(d["loc"], d["type"]) for d in refused.json()["detail"]] == [
        (["body", "contact_ids", 1], "not_found"), (["body", "contact_ids", 3], "not_found"),
    ]  # fmt: skip
    assert not SegmentMember.objects.exists() and not segment_events()
    assert send(client, "post", url, {"contact_ids": []}).status_code == 422
    # When good ids are added and some removed, then the answers say which changed
    added = send(client, "post", url, {"contact_ids": [a, b, c, a]})
    assert added.status_code == 200 and added.json() == {"contact_ids": [a, b, c], "member_count": 3}
    removed = send(client, "delete", url, {"contact_ids": [b, c]})
    assert removed.json() == {"contact_ids": [b, c], "member_count": 1}
    assert send(client, "delete", url, {"contact_ids": [999_999]}).json()["detail"][0]["loc"] == [
        "body", "contact_ids", 0,
    ]  # fmt: skip
    assert [m["id"] for m in send(client, "get", url).json()["items"]] == [a]
    assert len(segment_events()) == 5


def test_a_dynamic_segment_refuses_members_by_hand(client: Client, attendees: list[Contact]) -> None:
    created = send(client, "post", "/api/v1/segments", {"name": "Webinar", "conditions": WEBINAR_NOT_CUSTOMER})
    response = send(client, "post", f"/api/v1/segments/{created.json()['id']}/members",
                    {"contact_ids": [attendees[0].pk]})  # fmt: skip
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "not_static"
    assert not SegmentMember.objects.exists()


def test_scopes_and_what_a_rep_may_see(admin_user: User, alice: User, charlie: User) -> None:
    # Given a list holding alice's and charlie's contacts, and a read-only key
    mine = capture(owner=alice, full_name="Của Alice", phone="0912345601")
    theirs = capture(owner=charlie, full_name="Của Charlie", phone="0912345602")
    writer = key_client(admin_user, ["contacts:read", "segments:write"])
    segment_id = send(writer, "post", "/api/v1/segments", {"name": "VIP", "kind": "static"}).json()["id"]
    send(writer, "post", f"/api/v1/segments/{segment_id}/members", {"contact_ids": [mine.pk, theirs.pk]})
    reader = key_client(admin_user, ["contacts:read"])
    # When the read-only key writes, then 403 and nothing changes
    assert send(reader, "post", "/api/v1/segments", {"name": "x", "kind": "static"}).status_code == 403
    assert send(reader, "delete", f"/api/v1/segments/{segment_id}").status_code == 403
    assert Segment.objects.count() == 1
    # When alice (a rep, by session) reads the list, then she sees only her contact, and may not change it
    session = Client(headers={"Accept-Language": "en"})
    session.force_login(alice)
    members = send(session, "get", f"/api/v1/segments/{segment_id}/members").json()
    assert [m["id"] for m in members["items"]] == [mine.pk]
    assert send(session, "get", f"/api/v1/segments/{segment_id}/count").json()["count"] == 1
    refused = send(session, "delete", f"/api/v1/segments/{segment_id}/members", {"contact_ids": [mine.pk]})
    assert refused.status_code == 403
    assert SegmentMember.objects.count() == 2
