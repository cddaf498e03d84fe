from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event, Note
from nurture.lifecycle.models import Stage, StageChange

pytestmark = pytest.mark.django_db


def make(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.FORM_SUBMITTED)[0]
    return Contact.objects.get(pk=result.contact_id)


def test_inbox_lists_filters_and_searches(admin_client: Client) -> None:
    an = make(full_name="Nguyễn Văn An", phone="0912345678", source="facebook", campaign="IELTS")
    make(full_name="Trần Thị Bích", phone="0987654321", source="zalo")
    page = admin_client.get("/").content.decode()
    assert "Nguyễn Văn An" in page and "Trần Thị Bích" in page
    for q in ("nguyen van an", "Nguyễn Văn An", "0912 345 678", "+84912345678"):
        html = admin_client.get("/", {"q": q}).content.decode()
        assert "Nguyễn Văn An" in html and "Trần Thị Bích" not in html, q
    html = admin_client.get("/", {"source": "zalo"}).content.decode()
    assert "Trần Thị Bích" in html and "Nguyễn Văn An" not in html
    html = admin_client.get("/", {"campaign": "IELTS", "sort": "-score"}).content.decode()
    assert f"/contacts/{an.pk}/" in html


def test_inbox_requires_login() -> None:
    assert Client().get("/").status_code == 302


def test_inbox_is_vietnamese_by_default_and_english_on_request(admin_client: Client) -> None:
    assert "Khách hàng tiềm năng" in admin_client.get("/").content.decode()
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert ">Leads" in admin_client.get("/").content.decode()


def test_contact_page_shows_identities_consent_and_timeline(admin_client: Client) -> None:
    contact = make(
        full_name="Nguyễn Văn An", phone="0912345678", email="an@example.com", external_id="KH-9",
        consents={"zalo": True}, tags=["webinar"], custom_fields={"course": "IELTS"},
    )  # fmt: skip
    html = admin_client.get(f"/contacts/{contact.pk}/").content.decode()
    for text in ("+84912345678", "an@example.com", "KH-9", "webinar", "IELTS", "course"):
        assert text in html, text


def test_add_note_and_change_stage_from_the_page(admin_client: Client, admin_user: User) -> None:
    contact = make(phone="0912345678")
    admin_client.post(f"/contacts/{contact.pk}/notes", {"body": "Khách muốn học buổi tối"})
    mql = Stage.objects.get(key="mql", stage_set__is_active=True)
    admin_client.post(f"/contacts/{contact.pk}/stage", {"stage": str(mql.pk), "reason": "Dự webinar"})
    contact.refresh_from_db()
    assert contact.stage == mql
    change = StageChange.objects.filter(contact=contact).first()
    assert change is not None and (change.cause, change.reason, change.actor) == ("user", "Dự webinar", admin_user)
    assert Note.objects.get(contact=contact).body == "Khách muốn học buổi tối"
    html = admin_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Khách muốn học buổi tối" in html and "Dự webinar" in html


def test_blank_note_and_stage_without_reason_write_nothing(admin_client: Client) -> None:
    contact = make(phone="0912345678")
    admin_client.post(f"/contacts/{contact.pk}/notes", {"body": "   "})
    sql = Stage.objects.get(key="sql", stage_set__is_active=True)
    admin_client.post(f"/contacts/{contact.pk}/stage", {"stage": str(sql.pk), "reason": ""})
    contact.refresh_from_db()
    assert contact.stage.key == "lead"
    assert Note.objects.count() == 0 and contact.events.count() == 1


def test_timeline_is_paged_newest_first(admin_client: Client, admin_user: User) -> None:
    from nurture.contacts.actions import add_note

    contact = make(phone="0912345678")
    for i in range(30):
        add_note(contact, body=f"note {i:02d}", author=admin_user)
    first = admin_client.get(f"/contacts/{contact.pk}/timeline").content.decode()
    assert "note 29" in first and "note 05" in first and "note 04" not in first
    second = admin_client.get(f"/contacts/{contact.pk}/timeline", {"page": 2}).content.decode()
    assert "note 04" in second


def test_an_outsider_cannot_open_the_contact(alice: User, charlie: User) -> None:
    contact = make(phone="0912345678")
    Contact.objects.filter(pk=contact.pk).update(owner=alice)
    client = Client()
    client.force_login(charlie)
    assert client.get(f"/contacts/{contact.pk}/").status_code == 404
    assert client.post(f"/contacts/{contact.pk}/notes", {"body": "x"}).status_code == 404
    assert Note.objects.count() == 0
    assert "0912345678" not in client.get("/").content.decode()
