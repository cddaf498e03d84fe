"""Google Ads lead forms (google_key) and the generic signed webhook with field mapping; dead letters fixed
in the UI and replayed."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources.webhook import sign
from nurture.capture.tests.conftest import connect
from nurture.contacts.models import Contact, Event

pytestmark = pytest.mark.django_db
GOOGLE_KEY = "gk-7f3a"
SECRET = "chatbot-secret"


def google_lead(lead_id: str = "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ", key: str = GOOGLE_KEY, **extra: Any) -> str:
    return json.dumps(
        {
            "lead_id": lead_id,
            "api_version": "1.0",
            "form_id": 40000000000,
            "campaign_id": 20000000000,
            "google_key": key,
            "is_test": False,
            "gcl_id": "CjwKCAjw",
            "adgroup_id": 30000000000,
            "creative_id": 50000000000,
            "user_column_data": [
                {"column_name": "Full Name", "string_value": "Đặng Quốc Bảo", "column_id": "FULL_NAME"},
                {"column_name": "User Phone", "string_value": "+84 98 765 4321", "column_id": "PHONE_NUMBER"},
                {"column_name": "City", "string_value": "Hải Phòng", "column_id": "CITY"},
                {"column_name": "Bạn muốn học lúc nào?", "string_value": "Tối", "column_id": "SERVER_q1"},
            ],
            **extra,
        }
    )


def post_google(connection: Connection, body: str) -> Any:
    return Client().post(f"/hooks/capture/{connection.key}", body, content_type="application/json")


def post_signed(connection: Connection, payload: Any, *, secret: str = SECRET, event_id: str = "") -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-Nurture-Signature": sign(secret, raw), **({"X-Nurture-Event-Id": event_id} if event_id else {})}
    return Client().post(f"/hooks/capture/{connection.key}", raw, content_type="application/json", headers=headers)


@pytest.fixture
def google() -> Connection:
    return connect("google", name="Google Ads", signing_secret=GOOGLE_KEY, campaign="")


@pytest.fixture
def chatbot() -> Connection:
    return connect(
        "webhook",
        name="Chatbot",
        signing_secret=SECRET,
        source="chatbot",
        mapping={"contact.mobile": "phone", "contact.name": "full_name", "answers.course": "need"},
    )


def test_a_google_lead_with_the_right_key_is_captured_with_its_ids(google: Connection) -> None:
    response = post_google(google, google_lead())
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.full_name, contact.phone, contact.province) == ("Đặng Quốc Bảo", "+84987654321", "Hải Phòng")
    assert (contact.source, contact.medium, contact.campaign) == ("google", "cpc", "20000000000")
    assert contact.custom_fields == {"SERVER_q1": "Tối"}
    event = Event.objects.get(type=Event.Type.LEAD_AD_SUBMITTED)
    assert (event.data["lead_id"], event.data["gcl_id"], event.data["form_id"]) == (
        "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "CjwKCAjw",
        40000000000,
    )
    assert "google_key" not in json.dumps(InboundEvent.objects.get().payload)


def test_googles_send_test_data_is_received_without_making_a_contact(google: Connection) -> None:
    response = post_google(google, google_lead(lead_id="test-1", is_test=True))
    assert response.status_code == 200
    assert not Contact.objects.exists()
    assert InboundEvent.objects.get().kind == "test"
    google.refresh_from_db()
    assert google.last_event_at is not None


def test_a_wrong_google_key_is_401_and_nothing_is_stored(google: Connection) -> None:
    assert post_google(google, google_lead(key="guess")).status_code == 401
    assert post_google(google, "not json").status_code == 401
    assert not InboundEvent.objects.exists() and not Contact.objects.exists()


def test_a_replayed_google_lead_is_accepted_once(google: Connection) -> None:
    post_google(google, google_lead())
    assert post_google(google, google_lead()).json() == {"ok": True, "duplicate": True}
    assert Event.objects.filter(type=Event.Type.LEAD_AD_SUBMITTED).count() == 1


def test_the_generic_webhook_maps_nested_fields(chatbot: Connection) -> None:
    payload = {
        "id": "conv-81",
        "contact": {"name": "Ngô Thị Mai", "mobile": "0935 111 222"},
        "answers": {"course": "Tiếng Anh giao tiếp"},
        "utm": {"campaign": "tet-2026"},
    }
    response = post_signed(chatbot, payload)
    assert response.status_code == 200
    contact = Contact.objects.get(pk=response.json()["contact_id"])
    assert (contact.full_name, contact.phone, contact.need, contact.source) == (
        "Ngô Thị Mai",
        "+84935111222",
        "Tiếng Anh giao tiếp",
        "chatbot",
    )
    assert InboundEvent.objects.get().key == "conv-81"
    assert Event.objects.get(type=Event.Type.WEBHOOK_CAPTURED).data["fields"]["utm.campaign"] == "tet-2026"


def test_the_generic_webhook_refuses_bad_signatures_and_accepts_a_replay_once(chatbot: Connection) -> None:
    payload = {"contact": {"mobile": "0935111222"}}
    assert post_signed(chatbot, payload, secret="guess").status_code == 401
    assert Client().post(f"/hooks/capture/{chatbot.key}", payload, content_type="application/json").status_code == 401
    assert not InboundEvent.objects.exists()
    assert post_signed(chatbot, payload, event_id="e-1").status_code == 200
    assert post_signed(chatbot, payload, event_id="e-1").json()["duplicate"] is True
    # Without an id, the same body is the same event
    assert post_signed(chatbot, {"contact": {"mobile": "0935111333"}}).status_code == 200
    assert post_signed(chatbot, {"contact": {"mobile": "0935111333"}}).json()["duplicate"] is True
    assert Contact.objects.count() == 2


def test_an_unsigned_webhook_connection_refuses_everything() -> None:
    open_hook = connect("webhook", name="No secret")
    assert post_signed(open_hook, {"phone": "0935111222"}, secret="").status_code == 401
    assert not InboundEvent.objects.exists()


def test_an_unmappable_payload_is_400_with_the_reason_and_kept(chatbot: Connection) -> None:
    response = post_signed(chatbot, {"id": "conv-9", "contact": {"name": "Mai", "mobile": "12"}})
    assert response.status_code == 400
    assert response.json()["error"] == "phone: phone number is too short"
    dead = InboundEvent.objects.get(pk=response.json()["dead_letter"])
    assert (dead.status, dead.payload["contact"]["mobile"]) == ("dead", "12")
    assert not Contact.objects.exists()
    no_json = post_signed(chatbot, b"name=Mai&phone=0935111222")
    assert no_json.status_code == 400 and "JSON" in no_json.json()["error"]
    assert InboundEvent.objects.get(pk=no_json.json()["dead_letter"]).payload == {"raw": "name=Mai&phone=0935111222"}


def test_an_admin_fixes_the_payload_in_the_ui_and_replays_it(
    chatbot: Connection, admin_client: Client, alice: Any, _english: None
) -> None:
    dead_id = post_signed(chatbot, {"id": "conv-9", "contact": {"name": "Mai", "mobile": "12"}}).json()["dead_letter"]
    page = admin_client.get("/connections/dead-letters")
    assert "phone: phone number is too short" in page.content.decode()
    # A rep may not see or replay dead letters
    rep = Client()
    rep.force_login(alice)
    assert rep.get("/connections/dead-letters").status_code == 403
    assert rep.post(f"/connections/events/{dead_id}/", {"payload": "{}"}).status_code == 403
    # An invalid JSON edit is refused, naming the field, and changes nothing
    bad = admin_client.post(f"/connections/events/{dead_id}/", {"payload": "{oops"})
    assert bad.status_code == 422 and InboundEvent.objects.get(pk=dead_id).payload["contact"]["mobile"] == "12"
    fixed = json.dumps({"id": "conv-9", "contact": {"name": "Mai", "mobile": "0935 111 222"}})
    response = admin_client.post(f"/connections/events/{dead_id}/", {"payload": fixed}, follow=True)
    assert "Replayed." in response.content.decode()
    event = InboundEvent.objects.get(pk=dead_id)
    assert (event.status, Contact.objects.get().phone) == ("done", "+84935111222")
    assert "Nothing waiting" in admin_client.get("/connections/dead-letters").content.decode()
    # A captured event cannot be replayed a second time
    with pytest.raises(actions.InvalidConnection):
        actions.replay_inbound(event)


def test_after_fixing_the_mapping_all_dead_letters_are_replayed(
    chatbot: Connection, admin_client: Client, _english: None
) -> None:
    # Given two leads whose phone came under a field nobody mapped, and one with no phone at all
    for n, payload in enumerate(({"lien_lac": "0935111222"}, {"lien_lac": "0935111333"}, {"name": "Không số"})):
        assert post_signed(chatbot, payload, event_id=f"e{n}").status_code == 400
    # When the admin maps the field and replays the connection's dead letters
    actions.save_connection(chatbot, mapping={**chatbot.mapping, "lien_lac": "phone"})
    response = admin_client.post(f"/connections/dead-letters?connection={chatbot.pk}", follow=True)
    # Then the two are captured and the third stays, with its reason
    assert "2 replayed, 1 still dead." in response.content.decode()
    assert sorted(Contact.objects.values_list("phone", flat=True)) == ["+84935111222", "+84935111333"]
    assert InboundEvent.objects.get(status="dead").key == "e2"


def test_the_cli_replays_dead_letters_and_names_those_still_dead(chatbot: Connection, _english: None) -> None:
    post_signed(chatbot, {"lien_lac": "0935111222"}, event_id="e0")
    post_signed(chatbot, {"name": "Không số"}, event_id="e1")
    actions.save_connection(chatbot, mapping={"lien_lac": "phone"})
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("replay_dead_letters", connection=chatbot.pk, stdout=out, stderr=err)
    assert "1 replayed, 1 still dead" in out.getvalue()
    assert "(Chatbot, e1): still dead: phone: a phone, an email or an external id is required" in err.getvalue()
    with pytest.raises(CommandError, match="no connection with id 999"):
        call_command("replay_dead_letters", connection=999)
