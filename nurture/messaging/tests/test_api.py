"""The messaging API: templates CRUD (422 naming the field), messages with filters, sending one message."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core.models import Job
from nurture.messaging.models import Message, Template

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 10:00 +07:00"


@pytest.fixture
def writer(admin_user: User) -> Client:
    _key, raw = create_api_key(name="crm", scopes=["contacts:read", "messaging:write"], created_by=admin_user)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/messaging{path}", body, content_type="application/json")


def test_templates_crud(writer: Client) -> None:
    # When a template is created, read, replaced, listed and deleted
    created = post(
        writer,
        "/templates",
        {"name": "Chào", "channel": "email", "subject": "Chào {{ greeting }}", "body": "{{ owner.name }} sẽ gọi."},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["language"], body["zns_params"]) == ("Chào", "vi", {})
    url = f"/api/v1/messaging/templates/{body['id']}"
    assert writer.get(url).json()["subject"] == "Chào {{ greeting }}"
    replaced = writer.put(
        url,
        {"name": "Chào", "channel": "email", "subject": "Xin chào", "body": "b", "language": "en"},
        content_type="application/json",
    )
    assert (replaced.status_code, replaced.json()["language"]) == (200, "en")
    assert [t["id"] for t in writer.get("/api/v1/messaging/templates?channel=email").json()] == [body["id"]]
    assert writer.delete(url).status_code == 204
    assert Template.objects.count() == 0


def test_an_unknown_variable_is_422_naming_field_and_variable(writer: Client) -> None:
    response = post(
        writer, "/templates", {"name": "Z", "channel": "zalo", "body": "ok", "zns_params": {"ten": "{{ ho_ten }}"}}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "zns_params", "ten"], "type": "unknown_variable", "msg": "unknown variable: ho_ten"}
        ]
    }
    response = post(writer, "/templates", {"name": "Z", "channel": "sms", "body": "x", "language": "fr"})
    assert response.json()["detail"][0]["loc"] == ["body", "language"]
    assert Template.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_send_one_message_then_the_same_key_again(writer: Client, an: Contact) -> None:
    # When a message is sent through the API, twice with one key
    body = {
        "contact_id": an.pk,
        "channel": "sms",
        "key": "crm:order:77",
        "body": "Chào {{ greeting }}, đơn {{ order }}",
        "context": {"order": "77"},
    }
    first, again = post(writer, "/send", body), post(writer, "/send", body)
    # Then the first is created, the second returns it
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert {k: first.json()[k] for k in ("status", "channel", "body", "key", "origin")} == {
        "status": "queued",
        "channel": "sms",
        "body": "Chào anh An, đơn 77",
        "key": "crm:order:77",
        "origin": "api",
    }
    assert (Message.objects.count(), Job.objects.count()) == (1, 1)


def test_send_refusals_are_422_naming_the_field(writer: Client, an: Contact) -> None:
    cases = [
        ({"contact_id": 999999, "channel": "sms", "key": "k", "body": "x"}, "contact_id"),
        ({"contact_id": an.pk, "channel": "fax", "key": "k", "body": "x"}, "channel"),
        ({"contact_id": an.pk, "channel": "sms", "key": "k"}, "body"),
        ({"contact_id": an.pk, "channel": "sms", "key": "k", "body": "{{ nope }}"}, "body"),
        ({"contact_id": an.pk, "channel": "sms", "key": "k", "template_id": 999999}, "template_id"),
    ]
    for body, field in cases:
        response = post(writer, "/send", body)
        assert (response.status_code, response.json()["detail"][0]["loc"]) == (422, ["body", field]), body
    assert Message.objects.count() == 0


def test_a_refused_message_is_created_with_its_reason(writer: Client, owner: User) -> None:
    from nurture.notifications.tests.conftest import make_lead

    silent = make_lead(owner)
    response = post(writer, "/send", {"contact_id": silent.pk, "channel": "zalo", "key": "z", "body": "x"})
    assert (response.status_code, response.json()["status"], response.json()["reason"]) == (
        201,
        "refused",
        "no_consent",
    )


def test_messages_list_filters(writer: Client, an: Contact) -> None:
    with time_machine.travel(NOW, tick=False):
        for n, channel in enumerate(["sms", "email", "sms"]):
            post(
                writer, "/send", {"contact_id": an.pk, "channel": channel, "key": f"k{n}", "subject": "s", "body": "b"}
            )
    page = writer.get("/api/v1/messaging/messages?channel=sms&status=queued&limit=1").json()
    assert [m["key"] for m in page["items"]] == ["k2"]
    rest = writer.get(f"/api/v1/messaging/messages?channel=sms&cursor={page['next_cursor']}").json()
    assert ([m["key"] for m in rest["items"]], rest["next_cursor"]) == (["k0"], None)
    bad = writer.get("/api/v1/messaging/messages?status=lost")
    assert (bad.status_code, bad.json()["detail"][0]["loc"]) == (422, ["query", "status"])


def test_scopes(api: Client, alice: User, an: Contact) -> None:
    # A key without messaging:write may read but not send; a sales rep's session may not send either
    assert api.get("/api/v1/messaging/templates").status_code == 200
    assert post(api, "/send", {"contact_id": an.pk, "channel": "sms", "key": "k", "body": "x"}).status_code == 403
    rep = Client()
    rep.force_login(alice)
    assert post(rep, "/send", {"contact_id": an.pk, "channel": "sms", "key": "k", "body": "x"}).status_code == 403
    assert Message.objects.count() == 0
