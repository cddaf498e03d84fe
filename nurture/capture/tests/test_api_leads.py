from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.actions import create_api_key, revoke_api_key
from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event, Identity
from nurture.lifecycle.models import StageChange

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_create_lead_normalises_and_records_everything(api: Client) -> None:
    # Given a lead as a landing-page builder sends it
    body = {
        "full_name": "  nguyễn   văn an ",
        "phone": "0912.345.678",
        "email": " An.Nguyen@Gmail.COM ",
        "source": "facebook",
        "campaign": "IELTS-thang-9",
        "tags": ["ielts"],
        "consents": {"email": True, "sms": False},
        "custom_fields": {"course": "IELTS"},
    }
    # When it is posted
    response = post(api, "/api/v1/leads", body)
    # Then one contact exists with normalised identities, an event, a stage change and consents
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["outcome"] == "created"
    contact = Contact.objects.get(pk=data["contact_id"])
    assert contact.full_name == "Nguyễn Văn An"
    assert (contact.family_name, contact.given_name, contact.name_folded) == ("Nguyễn", "An", "nguyen van an")
    assert contact.phone == "+84912345678"
    assert contact.email == "an.nguyen@gmail.com"
    assert contact.stage.key == "lead"
    assert sorted(contact.identities.values_list("kind", "value")) == [
        ("email", "an.nguyen@gmail.com"),
        ("phone", "+84912345678"),
    ]
    assert [t.name for t in contact.tags.all()] == ["ielts"]
    assert contact.custom_fields == {"course": "IELTS"}
    assert dict(contact.consents.values_list("channel", "granted")) == {"email": True, "sms": False}
    assert list(contact.events.values_list("type", flat=True)) == [Event.Type.API_CAPTURED]
    assert StageChange.objects.filter(contact=contact, cause="api").count() == 1


def test_known_phone_in_another_format_lands_on_the_same_contact(api: Client) -> None:
    # Given a contact known by phone, with no email yet
    first = post(api, "/api/v1/leads", {"full_name": "Trần Thị Hương", "phone": "0912345678"}).json()
    # When the same person arrives with the phone written differently and an email
    second = post(api, "/api/v1/leads", {"phone": "+84 912 345 678", "email": "huong@example.vn", "province": "Hà Nội"})
    # Then it is the same contact, the empty fields are filled and the submission is on the timeline
    assert second.status_code == 200
    assert second.json()["contact_id"] == first["contact_id"]
    assert second.json()["outcome"] == "updated"
    assert sorted(second.json()["updated_fields"]) == ["email", "province"]
    contact = Contact.objects.get()
    assert contact.email == "huong@example.vn" and contact.province == "Hà Nội"
    assert contact.full_name == "Trần Thị Hương"
    assert contact.events.count() == 2
    assert Identity.objects.filter(contact=contact).count() == 2


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"full_name": "An"}, "phone", "required"),
        ({"phone": "12345"}, "phone", None),
        ({"phone": "0912345678", "email": "not-an-email"}, "email", None),
        ({"phone": "0912345678", "birth_date": "31/02/2000"}, "birth_date", "invalid"),
        ({"phone": "0912345678", "gender": "robot"}, "gender", "invalid"),
        ({"phone": "0912345678", "full_name": "x" * 201}, "full_name", "too_long"),
        ({"phone": "0912345678", "favourite_colour": "blue"}, "favourite_colour", None),
        ({"phone": "0912345678", "consents": {"fax": True}}, "consents", None),
    ],
)
def test_invalid_lead_is_422_naming_the_field_and_writes_nothing(
    api: Client, body: dict[str, Any], field: str, code: str | None
) -> None:
    # When an invalid lead is posted
    response = post(api, "/api/v1/leads", body)
    # Then the error names the field, and nothing was written
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert any(field in [str(part) for part in d["loc"]] for d in detail), detail
    if code:
        assert any(d["type"] == code for d in detail)
    assert Contact.objects.count() == 0
    assert Event.objects.count() == 0


def test_body_over_one_megabyte_is_413(api: Client) -> None:
    response = post(api, "/api/v1/leads", {"phone": "0912345678", "need": "x" * (1024 * 1024 + 10)})
    assert response.status_code == 413
    assert Contact.objects.count() == 0


def test_malformed_json_is_rejected(api: Client) -> None:
    response = api.post("/api/v1/leads", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert Contact.objects.count() == 0


def test_batch_creates_and_groups_duplicates_inside_the_batch(api: Client) -> None:
    # Given 3 leads, two of which are one person
    leads = [
        {"full_name": "Lê Văn Bình", "phone": "0987654321"},
        {"full_name": "Phạm Thu Trang", "email": "trang@example.com"},
        {"phone": "84987654321", "email": "binh@example.com"},
    ]
    # When they are posted as a batch
    response = post(api, "/api/v1/leads/batch", {"leads": leads})
    # Then two contacts exist, the second Bình record filled the first one's email
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["created"], data["updated"], data["unchanged"]) == (2, 1, 0)
    assert data["results"][0]["contact_id"] == data["results"][2]["contact_id"]
    assert Contact.objects.count() == 2
    binh = Contact.objects.get(pk=data["results"][0]["contact_id"])
    assert binh.email == "binh@example.com"
    assert binh.events.count() == 2


def test_batch_with_one_bad_lead_names_its_index_and_writes_nothing(api: Client) -> None:
    leads = [{"phone": "0987654321"}, {"phone": "0987654322"}, {"phone": "abc"}]
    response = post(api, "/api/v1/leads/batch", {"leads": leads})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "leads", 2, "phone"]
    assert Contact.objects.count() == 0


def test_batch_size_is_limited(api: Client) -> None:
    too_many = [{"phone": f"0912{i:06d}"} for i in range(1001)]
    response = post(api, "/api/v1/leads/batch", {"leads": too_many})
    assert response.status_code == 422
    assert Contact.objects.count() == 0
    assert post(api, "/api/v1/leads/batch", {"leads": []}).status_code == 422


def test_a_thousand_leads_in_one_batch(api: Client) -> None:
    leads = [{"full_name": f"Khách {i}", "phone": f"0912{i:06d}"} for i in range(1000)]
    response = post(api, "/api/v1/leads/batch", {"leads": leads})
    assert response.status_code == 200
    assert response.json()["created"] == 1000
    assert Contact.objects.count() == 1000
    assert Identity.objects.count() == 1000


def test_missing_revoked_or_unscoped_key_is_refused(admin_user: User) -> None:
    # Given a revoked key and a read-only key
    revoked, revoked_raw = create_api_key(name="old", scopes=["leads:write"], created_by=admin_user)
    revoke_api_key(revoked)
    _ro, read_only = create_api_key(name="ro", scopes=["contacts:read"], created_by=admin_user)
    body = {"phone": "0912345678"}
    # Then none of them can create a lead
    assert post(Client(), "/api/v1/leads", body).status_code == 401
    assert post(Client(headers={"Authorization": f"Bearer {revoked_raw}"}), "/api/v1/leads", body).status_code == 401
    assert post(Client(headers={"X-API-Key": read_only}), "/api/v1/leads", body).status_code == 403
    assert Contact.objects.count() == 0


def test_a_key_revoked_after_use_is_refused_at_once(admin_user: User) -> None:
    key, raw = create_api_key(name="soon gone", scopes=["leads:write"], created_by=admin_user)
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert post(api, "/api/v1/leads", {"phone": "0912345678"}).status_code == 201  # held by this process now
    revoke_api_key(key)
    assert post(api, "/api/v1/leads", {"phone": "0912345679"}).status_code == 401
    assert Contact.objects.count() == 1


def test_x_api_key_header_works(api_key: str) -> None:
    response = post(Client(headers={"X-API-Key": api_key}), "/api/v1/leads", {"phone": "0912345678"})
    assert response.status_code == 201


def test_openapi_schema_is_served(api: Client) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/leads" in schema["paths"]
    assert "/api/v1/contacts" in schema["paths"]
    assert Client().get("/api/docs").status_code == 302
