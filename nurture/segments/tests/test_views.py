from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.http import StreamingHttpResponse
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.actions import EventInput, capture_leads, record_events
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.models import Job
from nurture.segments import actions
from nurture.segments.models import Segment, SegmentMember
from nurture.segments.tests.helpers import WEBINAR_NOT_CUSTOMER, capture, segment_events

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}
NOW = "2026-03-02 09:00 +07:00"


def logged_in(user: User) -> Client:
    client = Client(headers=EN)
    client.force_login(user)
    return client


def form(**fields: Any) -> dict[str, Any]:
    return {"name": "Webinar, not customer", "description": "", "kind": "dynamic",
            "conditions_json": json.dumps(WEBINAR_NOT_CUSTOMER), **fields}  # fmt: skip


def exported(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.fixture
def admin(admin_user: User) -> Client:
    return logged_in(admin_user)


@pytest.fixture
def book(alice: User, bob: User, charlie: User) -> dict[str, Contact]:
    """Three webinar attendees: alice's, bob's (her teammate's) and charlie's (another team's)."""
    with time_machine.travel(NOW, tick=False):
        people = {
            "alice": capture(owner=alice, full_name="=Phạm Thu Hà", phone="0912345601", email="ha@example.vn"),
            "bob": capture(owner=bob, full_name="Lê Văn Tám", phone="0912345602"),
            "charlie": capture(owner=charlie, full_name="Trần Cúc", phone="0912345603"),
        }
        record_events([EventInput(contact_id=c.pk, type="webinar_attended", at=clock.now() - timedelta(days=1))
                       for c in people.values()])  # fmt: skip
    return people


@time_machine.travel(NOW, tick=False)
def test_a_segment_made_in_the_ui_counts_previews_and_refreshes(admin: Client, book: dict[str, Contact]) -> None:
    # When the count preview is asked for, with a good and a bad condition
    good = {"conditions_json": json.dumps(WEBINAR_NOT_CUSTOMER)}
    preview = admin.post("/segments/preview", good, headers={"HX-Request": "true"})
    bad = admin.post("/segments/preview", {"conditions_json": '{"any": [{"field": "shoe_size"}]}'})
    # Then it shows the live count, or the error with its path
    assert '<strong class="count">3</strong> contacts match now.' in preview.content.decode()
    assert "Invalid condition: any[0].field: unknown field &#x27;shoe_size&#x27;" in bad.content.decode()
    # When the segment is saved
    saved = admin.post("/segments/new", form())
    segment = Segment.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/segments/{segment.pk}/"
    assert (segment.kind, segment.conditions) == ("dynamic", WEBINAR_NOT_CUSTOMER)
    assert Job.objects.filter(kind="segments.refresh").count() == 1
    # Then the list counts it live, and "Refresh now" records who entered
    listing = admin.get("/segments/").content.decode()
    assert f'<tr data-segment="{segment.pk}">' in listing and '<td class="count">3</td>' in listing
    refreshed = admin.post(f"/segments/{segment.pk}/refresh", follow=True).content.decode()
    assert "Refreshed: 3 entered, 0 left, 3 members." in refreshed
    assert len(segment_events()) == 3
    # And the edit page shows the condition, the kind fixed
    edit = admin.get(f"/segments/{segment.pk}/edit").content.decode()
    assert "&quot;webinar_attended&quot;" in edit and 'name="kind" disabled' in edit and "Count" in edit


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"conditions_json": "{not json"}, "Not valid JSON"),
        ({"conditions_json": json.dumps({"all": [{"event": "webinar_attended"}, {"field": "shoe_size", "op": "eq"}]})},
         "Invalid condition: all[1].field: unknown field &#x27;shoe_size&#x27;"),
        ({"conditions_json": ""}, "a dynamic segment needs a condition"),
        ({"kind": "static"}, "a static list has no conditions"),
        ({"name": ""}, "This field is required."),
    ],
)  # fmt: skip
def test_the_form_refuses_invalid_segments_naming_the_part(admin: Client, fields: dict[str, Any], error: str) -> None:
    # When an invalid segment is posted, then the form shows why, and nothing is written
    response = admin.post("/segments/new", form(**fields))
    assert response.status_code == 200 and error in response.content.decode()
    assert not Segment.objects.exists() and not Job.objects.exists()


def test_only_configurers_change_segments_but_everyone_sees_them(alice: User, admin: Client) -> None:
    # Given a segment and a rep
    segment = actions.save_segment(None, {"name": "VIP", "kind": "static"}, actor=None)
    rep = logged_in(alice)
    # When the rep tries to create, edit, delete, refresh or change members, then each is refused
    assert rep.post("/segments/new", form()).status_code == 403
    assert rep.get(f"/segments/{segment.pk}/edit").status_code == 403
    assert rep.post(f"/segments/{segment.pk}/delete").status_code == 403
    assert rep.post(f"/segments/{segment.pk}/refresh").status_code == 403
    assert rep.post(f"/segments/{segment.pk}/members", {"contact_ids": "1", "action": "add"}).status_code == 403
    assert rep.post("/segments/preview", {"conditions_json": "{}"}).status_code == 403
    assert Segment.objects.get().name == "VIP" and Segment.objects.count() == 1
    # But the rep sees the list, the page and the nav link, without the buttons to change them
    assert "VIP" in rep.get("/segments/").content.decode()
    page = rep.get(f"/segments/{segment.pk}/").content.decode()
    assert 'href="/segments/"' in page and "Export CSV" in page and f"/segments/{segment.pk}/edit" not in page
    assert 'id="members-form"' not in page
    # And the admin deletes it
    assert admin.post(f"/segments/{segment.pk}/delete").status_code == 302
    assert not Segment.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_members_and_export_show_only_what_the_user_may_see(
    alice: User, charlie: User, admin: Client, book: dict[str, Contact]
) -> None:
    # Given a segment everyone in the book belongs to
    segment = actions.save_segment(None, {"name": "Webinar", "conditions": WEBINAR_NOT_CUSTOMER}, actor=None)
    # When alice (a rep) and charlie (another team's rep) look at its members and export them
    alice_page = logged_in(alice).get(f"/segments/{segment.pk}/").content.decode()
    charlie_rows = exported(logged_in(charlie).get(f"/segments/{segment.pk}/export.csv"))
    alice_rows = exported(logged_in(alice).get(f"/segments/{segment.pk}/export.csv"))
    # Then alice sees her and her teammate's contacts, charlie only his own
    assert "Phạm Thu Hà" in alice_page and "Lê Văn Tám" in alice_page and "Trần Cúc" not in alice_page
    assert [r[1] for r in alice_rows[1:]] == ["'=Phạm Thu Hà", "Lê Văn Tám"]
    assert [r[1] for r in charlie_rows[1:]] == ["Trần Cúc"]
    # And the admin's export has every column of every member
    response = admin.get(f"/segments/{segment.pk}/export.csv")
    assert response["Content-Disposition"] == f'attachment; filename="segment-{segment.pk}.csv"'
    rows = exported(response)
    ha = book["alice"]
    assert rows[0] == ["id", "full_name", "email", "phone", "stage", "score", "band", "owner", "created_at"]
    assert rows[1] == [str(ha.pk), "'=Phạm Thu Hà", "ha@example.vn", "+84912345601", "lead", "0", "cold", "alice",
                       ha.created_at.isoformat()]  # fmt: skip
    assert [r[0] for r in rows[1:]] == [str(c.pk) for c in book.values()]


@time_machine.travel(NOW, tick=False)
def test_members_are_paged_by_fifty(admin: Client) -> None:
    # Given a list of 55 contacts
    results = capture_leads([parse_lead({"full_name": f"Khách {i}", "phone": f"09123456{i:02d}"}) for i in range(55)],
                            event_type=Event.Type.API_CAPTURED)  # fmt: skip
    segment = actions.save_segment(None, {"name": "Big", "kind": "static"}, actor=None)
    actions.add_to_list(segment, [r.contact_id for r in results], actor=None)
    # When the pages are read, then the first holds 50 and the second 5
    first = admin.get(f"/segments/{segment.pk}/").content.decode()
    second = admin.get(f"/segments/{segment.pk}/?page=2").content.decode()
    assert first.count('<tr><td><a href="/contacts/') == 50 and second.count('<tr><td><a href="/contacts/') == 5
    assert '<div class="num" id="member-count">55</div>' in first and "Page 1 of 2" in first


@time_machine.travel(NOW, tick=False)
def test_a_static_list_takes_pasted_ids_all_or_nothing(admin: Client, book: dict[str, Contact]) -> None:
    # Given a static list
    segment = actions.save_segment(None, {"name": "Call back", "kind": "static"}, actor=None)
    ha, tam = book["alice"].pk, book["bob"].pk
    url = f"/segments/{segment.pk}/members"
    # When ids with an unknown one are pasted, then nothing is added and the unknown id is named
    refused = admin.post(url, {"contact_ids": f"{ha}, 999999", "action": "add"}, follow=True)
    assert "No such contact: #999999. Nothing was changed." in refused.content.decode()
    assert not SegmentMember.objects.exists() and not segment_events()
    garbage = admin.post(url, {"contact_ids": f"{ha} abc", "action": "add"}, follow=True)
    assert "Not contact ids: abc" in garbage.content.decode()
    # When two good ids are pasted, then both are added; when one is removed, it leaves
    added = admin.post(url, {"contact_ids": f"{ha}\n{tam}", "action": "add"}, follow=True).content.decode()
    assert "2 added to the list." in added and "Phạm Thu Hà" in added
    removed = admin.post(url, {"contact_ids": str(tam), "action": "remove"}, follow=True).content.decode()
    assert "1 removed from the list." in removed
    assert list(SegmentMember.objects.values_list("contact_id", flat=True)) == [ha]
    assert [(c, t) for c, t, _ in segment_events()] == [(ha, "segment_entered"), (tam, "segment_entered"),
                                                         (tam, "segment_left")]  # fmt: skip
    assert Segment.objects.get().member_count == 1
