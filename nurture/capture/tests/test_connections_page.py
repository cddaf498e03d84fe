"""The connections page (status, last event, errors, test button), connecting a channel in the UI, and the API."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources.webhook import sign
from nurture.capture.tests.conftest import PAGE_TOKEN, Provider, connect
from nurture.contacts.models import Contact

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_english")]


def test_connecting_a_page_in_the_ui_with_its_mapping(admin_client: Client) -> None:
    form = admin_client.get("/connections/new?channel=facebook").content.decode()
    assert 'name="verify_token"' in form and 'name="signing_secret"' not in form
    response = admin_client.post(
        "/connections/new?channel=facebook",
        {
            "name": "Sao Mai",
            "is_active": "on",
            "account_id": "999",
            "app_secret": "s",
            "verify_token": "v",
            "access_token": PAGE_TOKEN,
            "source": "",
            "campaign": "",
            "fields": "0",
            "field-0": "so_dt_lien_he",
            "map-0": "phone",
        },
    )
    connection = Connection.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/connections/{connection.pk}/"
    assert (connection.channel, connection.account_id, connection.mapping) == (
        "facebook",
        "999",
        {"so_dt_lien_he": "phone"},
    )
    page = admin_client.get(f"/connections/{connection.pk}/").content.decode()
    assert f"/hooks/capture/{connection.key}" in page and "Backfill" in page
    assert PAGE_TOKEN not in page  # secrets are never sent back
    # Saving again with the secrets left blank keeps them
    admin_client.post(
        f"/connections/{connection.pk}/",
        {
            "name": "Sao Mai page",
            "is_active": "on",
            "account_id": "999",
            "app_secret": "",
            "verify_token": "",
            "access_token": "",
            "fields": "1",
            "field-0": "so_dt_lien_he",
            "map-0": "phone",
            "field-1": "",
        },
    )
    connection.refresh_from_db()
    assert (connection.name, connection.access_token, connection.app_secret) == ("Sao Mai page", PAGE_TOKEN, "s")
    # An unknown target is refused, naming the mapping, and nothing changes
    bad = admin_client.post(
        f"/connections/{connection.pk}/",
        {
            "name": "Sao Mai",
            "account_id": "999",
            "fields": "0",
            "field-0": "x",
            "map-0": "shoe_size",
        },
    )
    assert bad.status_code == 422 and "mapping: unknown target field for: x" in bad.content.decode()
    connection.refresh_from_db()
    assert connection.mapping == {"so_dt_lien_he": "phone"} and connection.is_active


def test_the_page_shows_status_last_event_and_errors(admin_client: Client, alice: User) -> None:
    quiet = connect("webhook", name="Landing page", signing_secret="s1")
    bot = connect("webhook", name="Chatbot", signing_secret="s2")
    for payload in ({"phone": "0935111222"}, {"phone": "12"}):
        raw = json.dumps(payload).encode()
        Client().post(
            f"/hooks/capture/{bot.key}",
            raw,
            content_type="application/json",
            headers={"X-Nurture-Signature": sign("s2", raw)},
        )
    page = admin_client.get("/connections/").content.decode()
    quiet_row = page[page.index(f'data-connection="{quiet.pk}"') :].split("</tr>")[0]
    bot_row = page[page.index(f'data-connection="{bot.pk}"') :].split("</tr>")[0]
    assert "Waiting for a first event" in quiet_row
    assert "1 dead letter" in bot_row and "phone number is too short" in bot_row and "Errors" in bot_row
    rep = Client()
    rep.force_login(alice)
    assert rep.get("/connections/").status_code == 403


def test_the_test_button_sends_a_sample_through_the_real_path_and_leaves_nothing(admin_client: Client) -> None:
    bot = connect("webhook", name="Chatbot", signing_secret="s2")
    google = connect("google", name="Google", signing_secret="gk")
    pbx = connect("calls", name="PBX", signing_secret="p")
    for connection in (bot, google, pbx):
        response = admin_client.post(f"/connections/{connection.pk}/test", follow=True)
        assert "Test passed: HTTP 200" in response.content.decode()
    assert not Contact.objects.exists() and not InboundEvent.objects.exists()
    # A connection whose secret does not match what it was set up with fails its test
    broken = connect("webhook", name="No secret")
    response = admin_client.post(f"/connections/{broken.pk}/test", follow=True)
    assert "Test failed: HTTP 401" in response.content.decode()


def test_the_test_button_checks_provider_credentials(admin_client: Client, provider: Provider) -> None:
    page = connect("facebook", name="Page", account_id="999", access_token=PAGE_TOKEN)
    assert (
        "Page Anh ngữ Sao Mai (999) answers"
        in admin_client.post(f"/connections/{page.pk}/test", follow=True).content.decode()
    )
    wrong = connect("facebook", name="Old page", account_id="999", access_token="expired")
    assert (
        "Invalid OAuth access token" in admin_client.post(f"/connections/{wrong.pk}/test", follow=True).content.decode()
    )
    oa = connect("zalo", name="OA", app_id="zalo-app-1", signing_secret="k", access_token="zalo-access-1")
    text = admin_client.post(f"/connections/{oa.pk}/test", follow=True).content.decode()
    assert "OA Sao Mai OA answers with this token" in text and "HTTP 200" in text
    assert not InboundEvent.objects.exists()


def test_the_api_lists_connections_and_dead_letters_and_replays(admin_user: User, alice: User) -> None:
    bot = connect("webhook", name="Chatbot", signing_secret="s2")
    raw = json.dumps({"id": "x1", "phone": "12"}).encode()
    Client().post(
        f"/hooks/capture/{bot.key}",
        raw,
        content_type="application/json",
        headers={"X-Nurture-Signature": sign("s2", raw)},
    )
    _key, token = create_api_key(name="ops", scopes=["leads:write"], created_by=admin_user)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    [row] = api.get("/api/v1/connections").json()
    assert (row["name"], row["dead_letters"], row["webhook_path"]) == ("Chatbot", 1, f"/hooks/capture/{bot.key}")
    [dead] = api.get("/api/v1/connections/dead-letters").json()
    assert dead["error"] == "phone: phone number is too short"
    bad = api.post(f"/api/v1/connections/events/{dead['id']}/replay", {"payload": [1]}, content_type="application/json")
    assert bad.status_code == 422
    fixed = api.post(
        f"/api/v1/connections/events/{dead['id']}/replay",
        {"payload": {"id": "x1", "phone": "0935111222"}},
        content_type="application/json",
    )
    assert (fixed.status_code, fixed.json()["status"]) == (200, "done")
    assert Contact.objects.get().phone == "+84935111222"
    assert api.post(f"/api/v1/connections/{bot.pk}/test").json()["ok"] is True
    # Keys without the scope, and reps through the session, are refused
    _key, weak = create_api_key(name="read", scopes=["contacts:read"], created_by=admin_user)
    assert Client(headers={"Authorization": f"Bearer {weak}"}).get("/api/v1/connections").status_code == 403
    rep = Client()
    rep.force_login(alice)
    assert rep.get("/api/v1/connections").status_code == 403


def test_every_channels_settings_and_event_pages_render(admin_client: Client) -> None:
    for channel in Connection.Channel.values:
        page = admin_client.get(f"/connections/new?channel={channel}")
        assert page.status_code == 200 and 'id="mapping"' in page.content.decode()
    assert admin_client.get("/connections/new?channel=myspace").status_code == 404
    assert admin_client.get("/connections/dead-letters?connection=x").status_code == 404
    bot = connect("webhook", name="Chatbot", signing_secret="s2")
    raw = json.dumps({"id": "x1", "contact": {"mobile": "0935111222"}, "phone": "0935111222"}).encode()
    response = Client().post(f"/hooks/capture/{bot.key}", raw, content_type="application/json",
                             headers={"X-Nurture-Signature": sign("s2", raw)})  # fmt: skip
    event = InboundEvent.objects.get()
    detail = admin_client.get(f"/connections/events/{event.pk}/").content.decode()
    assert "0935111222" in detail and "Replay" not in detail and f"/contacts/{response.json()['contact_id']}/" in detail
    edit = admin_client.get(f"/connections/{bot.pk}/").content.decode()
    # The fields seen in the latest events are offered for mapping, with what they map to today
    assert 'value="contact.mobile"' in edit and 'value="phone"' in edit and 'id="events"' in edit
