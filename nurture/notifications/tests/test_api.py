"""GET /api/v1/notifications and POST /api/v1/notifications/read: the acting user's own notices."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import ApiKey, User
from nurture.contacts.models import Contact
from nurture.notifications.actions import notify
from nurture.notifications.models import Notification

pytestmark = pytest.mark.django_db


def key_client(user: User, scopes: list[str]) -> Client:
    _key, raw = create_api_key(name="notifications", scopes=scopes, created_by=user)
    return Client(headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def notices(alice: User, bob: User, lead: Contact) -> list[Notification]:
    """Three notices for alice a minute apart (the first read), one for bob."""
    made = []
    for minute, (kind, title) in enumerate([("info", "Chào"), ("new_lead", "Lead mới"), ("sla_reminder", "Gọi ngay")]):
        with time_machine.travel(f"2026-03-02 09:0{minute} +07:00", tick=False):
            made.append(notify(alice, kind=kind, title=title, contact=lead if kind != "info" else None))
    Notification.objects.filter(pk=made[0].pk).update(read_at=made[0].created_at)
    with time_machine.travel("2026-03-02 09:05 +07:00", tick=False):
        notify(bob, kind="info", title="Bob's")
    return made


def test_list_the_acting_users_notifications(alice: User, lead: Contact, notices: list[Notification]) -> None:
    client = key_client(alice, ["contacts:read"])
    # When alice's key lists her notifications
    response = client.get("/api/v1/notifications")
    # Then hers come newest first, with absolute links and her unread count; bob's are not there
    assert response.status_code == 200, response.content
    body = response.json()
    assert [n["title"] for n in body["items"]] == ["Gọi ngay", "Lead mới", "Chào"]
    assert (body["unread"], body["next_cursor"]) == (2, None)
    assert body["items"][1] == {
        "id": notices[1].pk, "kind": "new_lead", "title": "Lead mới", "body": "",
        "url": f"http://127.0.0.1:8000/contacts/{lead.pk}/", "contact_id": lead.pk,
        "created_at": "2026-03-02T02:01:00Z", "read_at": None,
    }  # fmt: skip
    # And only the unread ones, paged by cursor
    first = client.get("/api/v1/notifications?unread=true&limit=1").json()
    assert [n["id"] for n in first["items"]] == [notices[2].pk] and first["next_cursor"] == str(notices[2].pk)
    second = client.get(f"/api/v1/notifications?unread=true&limit=1&cursor={first['next_cursor']}").json()
    assert ([n["id"] for n in second["items"]], second["next_cursor"]) == ([notices[1].pk], None)
    assert client.get("/api/v1/notifications?cursor=abc").status_code == 422


def test_mark_read_by_id_and_all(alice: User, notices: list[Notification]) -> None:
    client = key_client(alice, ["contacts:read", "contacts:write"])
    # When one is marked read by id
    response = post(client, "/api/v1/notifications/read", {"ids": [notices[1].pk]})
    assert (response.status_code, response.json()) == (200, {"marked": 1, "unread": 1})
    # And then all of them
    assert post(client, "/api/v1/notifications/read", {"all": True}).json() == {"marked": 1, "unread": 0}
    assert Notification.objects.filter(read_at__isnull=True).values_list("title", flat=True).get() == "Bob's"


def test_marking_someone_elses_or_nothing_is_refused(alice: User, bob: User, notices: list[Notification]) -> None:
    client = key_client(alice, ["contacts:read", "contacts:write"])
    bobs = Notification.objects.get(user=bob)
    # When alice names bob's notice beside her own, or nothing at all
    refused = post(client, "/api/v1/notifications/read", {"ids": [notices[2].pk, bobs.pk]})
    empty = post(client, "/api/v1/notifications/read", {})
    # Then both are refused, naming the field, and nothing is marked
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"loc": ["body", "ids", 1], "type": "not_found", "msg": f"no such notification: {bobs.pk}"}
    ]
    assert (empty.status_code, empty.json()["detail"][0]["loc"], empty.json()["detail"][0]["type"]) == (
        422, ["body", "ids"], "size")  # fmt: skip
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_scopes_and_keys_without_a_user(alice: User, admin_user: User, notices: list[Notification]) -> None:
    # A key without contacts:read lists nothing; a read-only key marks nothing
    assert key_client(alice, ["leads:write"]).get("/api/v1/notifications").status_code == 403
    read_only = key_client(alice, ["contacts:read"])
    assert post(read_only, "/api/v1/notifications/read", {"all": True}).status_code == 403
    # A key whose creator is gone has no notifications
    orphan = key_client(admin_user, ["contacts:read"])
    ApiKey.objects.filter(created_by=admin_user).update(created_by=None)
    assert orphan.get("/api/v1/notifications").status_code == 403
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_the_session_user_reads_their_own(alice: User, notices: list[Notification]) -> None:
    # The web UI's session works too (a sales rep has contacts:read)
    client = Client()
    client.force_login(alice)
    assert client.get("/api/v1/notifications?unread=true").json()["unread"] == 2
