from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event

pytestmark = pytest.mark.django_db


def make(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED)[0]
    return Contact.objects.get(pk=result.contact_id)


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, data=json.dumps(body), content_type="application/json")


def test_list_filters_and_cursor_paging(api: Client) -> None:
    # Given 5 facebook leads and 2 from zalo
    for i in range(5):
        make(phone=f"091234567{i}", source="facebook", campaign="IELTS")
    for i in range(2):
        make(phone=f"098765432{i}", source="zalo")
    # When listing facebook leads two at a time
    first = api.get("/api/v1/contacts", {"source": "facebook", "limit": "2"}).json()
    second = api.get(
        "/api/v1/contacts", {"source": "facebook", "limit": "2", "cursor": str(first["next_cursor"])}
    ).json()
    third = api.get(
        "/api/v1/contacts", {"source": "facebook", "limit": "2", "cursor": str(second["next_cursor"])}
    ).json()
    # Then the pages are disjoint, newest first, and end
    ids = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert len(ids) == 5 and len(set(ids)) == 5 and ids == sorted(ids, reverse=True)
    assert third["next_cursor"] is None
    assert {c["source"] for c in first["items"]} == {"facebook"}
    assert api.get("/api/v1/contacts", {"campaign": "IELTS"}).json()["items"].__len__() == 5
    assert api.get("/api/v1/contacts", {"cursor": "zzz"}).status_code == 422


def test_search_finds_the_same_person_every_way(api: Client) -> None:
    an = make(full_name="Nguyễn Văn An", phone="0912345678")
    make(full_name="Nguyễn Văn Bình", phone="0987654321")
    for q in ("nguyen van an", "Nguyễn Văn An", "0912 345 678", "+84912345678"):
        items = api.get("/api/v1/contacts", {"q": q}).json()["items"]
        assert [c["id"] for c in items] == [an.pk], q


def test_get_contact_has_identities_stage_and_tags(api: Client) -> None:
    contact = make(full_name="Lê Thu Hà", phone="0912345678", email="ha@example.com", tags=["vip"], external_id="KH-1")
    data = api.get(f"/api/v1/contacts/{contact.pk}").json()
    assert data["full_name"] == "Lê Thu Hà"
    assert data["stage"]["key"] == "lead"
    assert data["tags"] == ["vip"]
    assert {(i["kind"], i["value"]) for i in data["identities"]} == {
        ("phone", "+84912345678"),
        ("email", "ha@example.com"),
        ("external", "KH-1"),
    }
    assert api.get("/api/v1/contacts/999999").status_code == 404


def test_update_contact_validates_and_audits(api: Client, alice: User) -> None:
    contact = make(full_name="Lê Thu Hà", phone="0912345678")
    response = patch(
        api, f"/api/v1/contacts/{contact.pk}", {"province": "Đà Nẵng", "owner_id": alice.pk, "email": "HA@Example.com"}
    )
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert (contact.province, contact.owner_id, contact.email) == ("Đà Nẵng", alice.pk, "ha@example.com")
    event = contact.events.get(type=Event.Type.UPDATED)
    assert set(event.data["changes"]) == {"province", "owner_id", "email"}
    assert contact.identities.filter(kind="email", value="ha@example.com").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "bad@"}, "email"),
        ({"phone": "123"}, "phone"),
        ({"owner_id": 987654}, "owner_id"),
        ({"phone": ""}, "phone"),
        ({"score": 100}, "score"),
    ],
)
def test_invalid_update_names_the_field_and_changes_nothing(api: Client, body: dict[str, Any], field: str) -> None:
    contact = make(full_name="Lê Thu Hà", phone="0912345678")
    response = patch(api, f"/api/v1/contacts/{contact.pk}", body)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])
    contact.refresh_from_db()
    assert contact.phone == "+84912345678" and contact.owner_id is None
    assert not contact.events.filter(type=Event.Type.UPDATED).exists()


def test_phone_of_another_contact_cannot_be_taken(api: Client) -> None:
    make(phone="0987654321")
    contact = make(phone="0912345678")
    response = patch(api, f"/api/v1/contacts/{contact.pk}", {"phone": "0987654321"})
    assert response.status_code == 422
    contact.refresh_from_db()
    assert contact.phone == "+84912345678"


def test_note_and_stage_through_the_api(api: Client) -> None:
    contact = make(phone="0912345678")
    assert (
        api.post(
            f"/api/v1/contacts/{contact.pk}/notes", data={"body": "Gọi lại chiều nay"}, content_type="application/json"
        ).status_code
        == 201
    )
    response = api.post(
        f"/api/v1/contacts/{contact.pk}/stage",
        data={"stage": "mql", "reason": "webinar"},
        content_type="application/json",
    )
    assert response.json()["stage"]["key"] == "mql"
    bad = api.post(f"/api/v1/contacts/{contact.pk}/stage", data={"stage": "nope"}, content_type="application/json")
    assert bad.status_code == 422
    assert list(contact.events.order_by("id").values_list("type", flat=True)) == [
        "api_captured",
        "note_added",
        "stage_changed",
    ]


def test_a_rep_sees_own_and_team_contacts_only(alice: User, bob: User, charlie: User) -> None:
    # Given a lead of alice's and one of charlie's
    mine = make(phone="0912345678")
    theirs = make(phone="0987654321")
    Contact.objects.filter(pk=mine.pk).update(owner=alice)
    Contact.objects.filter(pk=theirs.pk).update(owner=charlie)
    # Then bob (alice's teammate) sees alice's lead, not charlie's
    client = Client()
    client.force_login(bob)
    ids = [c["id"] for c in client.get("/api/v1/contacts").json()["items"]]
    assert ids == [mine.pk]
    assert client.get(f"/api/v1/contacts/{theirs.pk}").status_code == 404
    assert patch(client, f"/api/v1/contacts/{theirs.pk}", {"province": "X"}).status_code == 404
