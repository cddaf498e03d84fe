from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads, update_contact
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.identity.actions import open_pairs
from nurture.identity.models import DedupeRun, DuplicatePair, MatchSettings, Merge

pytestmark = pytest.mark.django_db


def capture(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED)[0]
    return Contact.objects.get(pk=result.contact_id)


def khoa_pair() -> tuple[Contact, Contact]:
    return capture(full_name="Đỗ Minh Khoa", email="khoa.do@abc.vn"), capture(
        full_name="Do Minh Khoa", email="khoado@gmail.com", province="Hà Nội"
    )


def test_queue_shows_pairs_with_counter_and_differences(admin_client: Client) -> None:
    khoa_pair()
    page = admin_client.get("/duplicates/").content.decode()
    assert 'id="duplicates-count">1<' in page
    assert "Đỗ Minh Khoa" in page and "Do Minh Khoa" in page and 'class="differs"' in page


def test_review_screen_merge_with_manual_choice_then_undo(admin_client: Client) -> None:
    a, b = khoa_pair()
    pair = DuplicatePair.objects.get()
    page = admin_client.get(f"/duplicates/{pair.pk}/").content.decode()
    assert 'name="keep_full_name"' in page and 'name="keep_email"' in page
    response = admin_client.post(f"/duplicates/{pair.pk}/merge", {"survivor": b.pk, "keep_full_name": a.pk})
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.full_name == "Đỗ Minh Khoa" and Contact.objects.get(pk=a.pk).merged_into_id == b.pk
    # The tombstone redirects to the survivor, whose page has the merge and its undo button
    assert admin_client.get(f"/contacts/{a.pk}/")["Location"] == f"/contacts/{b.pk}/"
    detail = admin_client.get(f"/contacts/{b.pk}/").content.decode()
    merge = Merge.objects.get()
    assert f"/merges/{merge.pk}/undo" in detail
    admin_client.post(f"/merges/{merge.pk}/undo")
    assert Contact.objects.get(pk=a.pk).merged_into_id is None
    assert Contact.objects.get(pk=b.pk).full_name == "Do Minh Khoa"


def test_bulk_not_same_and_skip(admin_client: Client) -> None:
    khoa_pair()
    capture(full_name="Hồ Thanh Vy", email="vy.ho@abc.vn")
    capture(full_name="Ho Thanh Vy", email="vyho@gmail.com")
    first, second = DuplicatePair.objects.order_by("pk")
    admin_client.post(f"/duplicates/{first.pk}/skip")
    assert list(open_pairs()) == [second, first]
    admin_client.post("/duplicates/bulk", {"action": "not_same", "pair": [first.pk, second.pk]})
    assert set(DuplicatePair.objects.values_list("status", flat=True)) == {"not_same"}
    assert "duplicates-count" not in admin_client.get("/duplicates/").content.decode()


def test_reps_only_see_pairs_of_their_contacts(alice: User, charlie: User) -> None:
    a, b = khoa_pair()
    for contact in (a, b):
        update_contact(contact, changes={"owner_id": alice.pk}, actor=None)
    pair = DuplicatePair.objects.get()
    rep = Client()
    rep.force_login(charlie)
    assert rep.get(f"/duplicates/{pair.pk}/").status_code == 404
    assert rep.post(f"/duplicates/{pair.pk}/merge").status_code == 404
    assert rep.get("/duplicates/runs/").status_code == 403
    rep.force_login(alice)
    assert rep.get(f"/duplicates/{pair.pk}/").status_code == 200


def test_manual_entry_goes_through_matching(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    bad = client.post("/contacts/new", {"full_name": "Lê Văn Hải", "phone": "12ab"})
    assert bad.status_code == 200 and "phone" in bad.content.decode().lower()
    assert not Contact.objects.exists()
    created = client.post("/contacts/new", {"full_name": "Lê Văn Hải", "phone": "0912 000 999"})
    contact = Contact.objects.get()
    assert created["Location"] == f"/contacts/{contact.pk}/" and contact.owner_id == alice.pk
    again = client.post("/contacts/new", {"full_name": "Le Van Hai", "phone": "+84912000999", "email": "hai@x.vn"})
    assert again["Location"] == f"/contacts/{contact.pk}/" and Contact.objects.count() == 1


def test_batch_run_from_the_ui_with_progress_and_report(admin_client: Client) -> None:
    rows = [
        {"full_name": "Trương Văn Phúc", "phone": "0905123456", "birth_date": "1980-01-02", "address": "12 Lê Lợi"},
        {"full_name": "Truong Phuc", "email": "phuc@example.vn", "birth_date": "02/01/1980", "address": "12 Le Loi"},
    ]
    capture_leads([parse_lead(r) for r in rows], event_type=Event.Type.IMPORTED)
    bad = admin_client.post("/duplicates/runs/", {"auto_merge_above": "150"})
    assert bad.status_code == 200 and not DedupeRun.objects.exists()
    response = admin_client.post("/duplicates/runs/", {"dry_run": "on"})
    run = DedupeRun.objects.get()
    assert response["Location"] == f"/duplicates/runs/{run.pk}/" and run.status == "queued"
    while process_due_jobs():
        pass
    run.refresh_from_db()
    assert (run.status, run.merged, run.processed) == ("done", 1, 2)
    fragment = admin_client.get(f"/duplicates/runs/{run.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment and "100%" in fragment
    report = b"".join(admin_client.get(f"/duplicates/runs/{run.pk}/report.csv").streaming_content)  # type: ignore[attr-defined]
    rows_out = list(csv.DictReader(io.StringIO(report.decode())))
    assert [r["decision"] for r in rows_out] == ["merge"]
    assert Contact.objects.filter(merged_into__isnull=False).count() == 0  # a dry run


def test_settings_page_validates_and_saves(admin_client: Client) -> None:
    page = admin_client.get("/duplicates/settings/")
    form = dict(page.context["form"].initial)
    bad = admin_client.post("/duplicates/settings/", {**form, "review": 95})
    assert bad.status_code == 200 and not MatchSettings.objects.exists()
    admin_client.post("/duplicates/settings/", {**form, "auto_merge": 85, "name_agree": 6})
    row = MatchSettings.objects.get()
    assert row.auto_merge == 85 and row.weights["name"][0] == 6
