"""Facebook Lead Ads: handshake, signed leadgen webhooks, Graph API retrieval with retries, mapping, dead
letters and backfill, against a loopback Graph API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import facebook
from nurture.capture.tests.conftest import PAGE_TOKEN, Provider, connect
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job

pytestmark = pytest.mark.django_db
APP_SECRET = "fb-app-secret"
NOW = "2026-03-02 10:00 +07:00"


@pytest.fixture
def page() -> Connection:
    return connect(
        "facebook",
        name="Sao Mai page",
        account_id="999",
        app_secret=APP_SECRET,
        verify_token="verify-me",
        access_token=PAGE_TOKEN,
    )


def leadgen(*ids: str, page_id: str = "999") -> bytes:
    changes = [
        {
            "field": "leadgen",
            "value": {
                "leadgen_id": i,
                "page_id": page_id,
                "form_id": "444",
                "ad_id": "111",
                "adgroup_id": "222",
                "created_time": 1772420400,
            },
        }
        for i in ids
    ]
    return json.dumps({"object": "page", "entry": [{"id": page_id, "time": 1772420400, "changes": changes}]}).encode()


def post(connection: Connection, body: bytes, secret: str = APP_SECRET) -> Any:
    return Client().post(
        f"/hooks/capture/{connection.key}",
        body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": facebook.signature(secret, body)},
    )


def drain() -> None:
    while process_due_jobs():
        pass


def test_the_verify_token_handshake(page: Connection) -> None:
    url = f"/hooks/capture/{page.key}"
    ok = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.content) == (200, b"1158201444")
    wrong = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403
    assert Client().get("/hooks/capture/not-a-key", {"hub.mode": "subscribe"}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_a_lead_is_fetched_by_leadgen_id_with_the_page_token_and_kept_for_attribution(
    provider: Provider, page: Connection
) -> None:
    # Given a lead on the Graph API
    provider.lead(
        "5551",
        "2026-03-02T02:55:00+0000",
        full_name="Phạm Thu Hà",
        phone_number="0912 345 678",
        email="HA@example.vn",
        khoa_hoc_quan_tam="IELTS",
    )
    # When Facebook posts the signed leadgen webhook, then it is answered at once and the fetch is a job
    response = post(page, leadgen("5551"))
    assert response.json() == {"ok": True, "received": 1, "duplicates": 0}
    assert provider.calls == []
    assert Job.objects.filter(kind="capture.process_inbound").count() == 1
    drain()
    # Then the lead was fetched with the page token and captured with its ids and attribution
    assert provider.paths() == ["/v21.0/5551"]
    assert provider.calls[0][2]["access_token"] == PAGE_TOKEN
    contact = Contact.objects.get()
    assert (contact.full_name, contact.phone, contact.email) == ("Phạm Thu Hà", "+84912345678", "ha@example.vn")
    assert (contact.source, contact.medium, contact.campaign) == ("facebook", "paid_social", "IELTS tháng 3")
    assert contact.custom_fields == {"khoa_hoc_quan_tam": "IELTS"}
    event = Event.objects.get(contact=contact, type=Event.Type.LEAD_AD_SUBMITTED)
    assert {k: event.data[k] for k in ("leadgen_id", "ad_id", "adset_id", "campaign_id", "form_id", "page_id")} == {
        "leadgen_id": "5551",
        "ad_id": "111",
        "adset_id": "222",
        "campaign_id": "333",
        "form_id": "444",
        "page_id": "999",
    }
    assert timezone.localtime(event.at).strftime("%H:%M") == "09:55"
    inbound = InboundEvent.objects.get()
    assert (inbound.status, inbound.contact_id) == ("done", contact.pk)
    page.refresh_from_db()
    assert page.last_event_at is not None


def test_a_bad_signature_is_401_and_nothing_is_stored(provider: Provider, page: Connection) -> None:
    assert post(page, leadgen("5551"), secret="forged").status_code == 401
    unsigned = Client().post(f"/hooks/capture/{page.key}", leadgen("5551"), content_type="application/json")
    assert unsigned.status_code == 401
    assert not InboundEvent.objects.exists() and not Job.objects.exists()
    page.refresh_from_db()
    assert page.last_event_at is None


def test_a_change_without_leadgen_id_is_a_dead_letter_and_the_others_go_in(
    provider: Provider, page: Connection
) -> None:
    provider.lead("5551", "2026-03-02T02:55:00+0000", full_name="Hà", phone_number="0912345678")
    body = json.loads(leadgen("5551"))
    body["entry"][0]["changes"].append({"field": "leadgen", "value": {"page_id": "999", "form_id": "444"}})
    raw = json.dumps(body).encode()
    response = post(page, raw)
    assert response.status_code == 400
    assert response.json()["error"] == "entry.changes.value.leadgen_id: missing"
    assert response.json()["received"] == 1
    drain()
    assert sorted(InboundEvent.objects.values_list("status", flat=True)) == ["dead", "done"]
    assert Contact.objects.count() == 1
    # Facebook retrying the whole batch adds nothing
    assert post(page, raw).json()["duplicates"] == 1
    assert InboundEvent.objects.count() == 2


def test_a_replayed_webhook_is_accepted_once(provider: Provider, page: Connection) -> None:
    provider.lead("5551", "2026-03-02T02:55:00+0000", full_name="Hà", phone_number="0912345678")
    assert post(page, leadgen("5551")).json()["received"] == 1
    assert post(page, leadgen("5551")).json() == {"ok": True, "received": 0, "duplicates": 1}
    drain()
    assert InboundEvent.objects.count() == 1
    assert Event.objects.filter(type=Event.Type.LEAD_AD_SUBMITTED).count() == 1
    assert provider.paths() == ["/v21.0/5551"]


def test_graph_errors_are_retried_with_back_off(provider: Provider, page: Connection) -> None:
    provider.lead("5551", "2026-03-02T02:55:00+0000", full_name="Hà", phone_number="0912345678")
    provider.failures = 2
    with time_machine.travel(NOW, tick=False):
        post(page, leadgen("5551"))
        drain()
    job = Job.objects.get(kind="capture.process_inbound")
    inbound = InboundEvent.objects.get()
    assert (job.status, job.attempts) == ("queued", 1)
    assert (inbound.status, inbound.attempts) == ("received", 1) and "HTTP 500" in inbound.error
    assert not Contact.objects.exists()
    # The second try waits 30 s, the third 60 s more
    with time_machine.travel(datetime.fromisoformat("2026-03-02T10:00:31+07:00"), tick=False):
        drain()
    with time_machine.travel(datetime.fromisoformat("2026-03-02T10:01:32+07:00"), tick=False):
        drain()
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 3)
    assert Contact.objects.get().phone == "+84912345678"
    assert len(provider.paths()) == 3


def test_graph_down_until_the_last_attempt_leaves_a_dead_letter(
    provider: Provider, page: Connection, settings: Any
) -> None:
    settings.NURTURE_CAPTURE_FETCH_ATTEMPTS = 1
    provider.failures = 1
    post(page, leadgen("5551"))
    drain()
    inbound = InboundEvent.objects.get()
    assert inbound.status == "dead" and "HTTP 500" in inbound.error
    # When the admin replays it later, then it is fetched and captured
    provider.lead("5551", "2026-03-02T02:55:00+0000", full_name="Hà", phone_number="0912345678")
    assert actions.replay_inbound(inbound).status == "done"
    assert Contact.objects.count() == 1


def test_an_unmappable_lead_waits_in_the_dead_letters_until_the_mapping_is_fixed(
    provider: Provider, page: Connection
) -> None:
    # Given a form whose phone question has a name no synonym knows
    provider.lead("5552", "2026-03-02T02:55:00+0000", full_name="Lê Minh", so_dt_lien_he="0987 654 321")
    post(page, leadgen("5552"))
    drain()
    inbound = InboundEvent.objects.get()
    assert inbound.status == "dead" and "phone" in inbound.error
    assert not Contact.objects.exists()
    # When the admin maps the field in the UI and replays, then it is captured without fetching again
    actions.save_connection(page, mapping={"so_dt_lien_he": "phone"})
    assert actions.replay_inbound(inbound).status == "done"
    assert Contact.objects.get().phone == "+84987654321"
    assert provider.paths() == ["/v21.0/5552"]


def test_backfill_fetches_a_forms_leads_over_a_date_range_once(
    provider: Provider, page: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facebook, "BACKFILL_PAGE", 2)
    for n, day in enumerate(("2026-02-27", "2026-02-28", "2026-03-01", "2026-03-01", "2026-03-05")):
        provider.lead(f"70{n}", f"{day}T03:00:00+0000", full_name=f"Khách {n}", phone_number=f"09120000{n:02d}")
    provider.lead("799", "2026-02-28T03:00:00+0000", form_id="555", full_name="Khác", phone_number="0913000000")
    # Given one lead of the range already received by the webhook
    post(page, leadgen("701"))
    drain()
    # When the admin backfills 28/02 to 01/03
    since = timezone.make_aware(datetime(2026, 2, 28))
    facebook.start_backfill(page, form_id="444", since=since, until=since + timedelta(days=2))
    drain()
    # Then the range's other leads are captured, across pages, and the one already there is not captured twice
    names = sorted(Contact.objects.values_list("full_name", flat=True))
    assert names == ["Khách 1", "Khách 2", "Khách 3"]
    assert Event.objects.filter(type=Event.Type.LEAD_AD_SUBMITTED).count() == 3
    assert provider.paths().count("/v21.0/444/leads") == 2
    assert set(InboundEvent.objects.values_list("key", flat=True)) == {"701", "702", "703"}


def test_backfill_input_is_checked(page: Connection) -> None:
    since = timezone.make_aware(datetime(2026, 2, 28))
    with pytest.raises(actions.InvalidConnection) as bad_form:
        facebook.start_backfill(page, form_id="abc", since=since, until=since + timedelta(days=1))
    with pytest.raises(actions.InvalidConnection) as bad_range:
        facebook.start_backfill(page, form_id="444", since=since, until=since)
    assert (bad_form.value.field, bad_range.value.field) == ("form_id", "since")
    assert not Job.objects.exists()
