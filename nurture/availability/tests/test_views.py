"""The availability pages: admins and managers configure; a rep manages their own leave and accepting switch."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client

from nurture.accounts.models import User
from nurture.availability import actions
from nurture.availability.models import WORKDAY, BusinessHours, Holiday, Leave, RepSchedule
from nurture.availability.tests.helpers import leave, local

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}
NOW = "2026-11-25 10:00 +07:00"  # a Wednesday; Tết 2027 is in the coming 12 months


def logged_in(user: User) -> Client:
    client = Client(headers=EN)
    client.force_login(user)
    return client


def hours_form(**changes: str) -> dict[str, str]:
    data = {"country": "VN", "use_official_holidays": "on"}
    for day in range(6):
        intervals = WORKDAY if day < 5 else [["08:00", "12:00"]]
        for slot, (start, end) in enumerate(intervals):
            data[f"d{day}_{slot}_start"], data[f"d{day}_{slot}_end"] = start, end
    return {**data, **changes}


@pytest.fixture
def admin(admin_user: User) -> Client:
    return logged_in(admin_user)


@time_machine.travel(NOW, tick=False)
def test_overview_shows_reps_now_hours_and_holidays(admin: Client, alice: User, bob: User, charlie: User) -> None:
    # Given bob on leave, charlie not accepting leads, alice on her own week, and a company day off
    leave(bob, "2026-11-24 08:00", "2026-11-27 17:30", "Nghỉ phép năm")
    actions.set_accepting_leads(charlie, False, actor=None)
    actions.set_schedule(alice, {"2": [["09:00", "18:00"]]}, True, actor=None)
    actions.add_holiday(date(2026, 12, 31), "Tất niên", actor=None)
    # When the admin opens the page
    page = admin.get("/availability/")
    # Then each rep's status now, week and leave are shown
    assert page.status_code == 200
    html = page.content.decode()
    rows = {r["user"].username: r for r in page.context["rows"]}
    assert {name: (r["available"], r["why"]) for name, r in rows.items()} == {
        "alice": (True, ""), "bob": (False, "on leave until 27/11 17:30"), "charlie": (False, "not accepting leads"),
    }  # fmt: skip
    assert rows["alice"]["week"] == "Wed 09:00–18:00" and rows["bob"]["week"] == "business hours"
    assert "Nghỉ phép năm" in html and "on leave until 27/11 17:30" in html
    # And the business hours and the holidays of the coming year, official ones marked
    assert page.context["business_week"] == "Mon–Fri 08:00–12:00, 13:30–17:30 · Sat 08:00–12:00"
    holidays = {h.date: (h.name, h.kind) for h in page.context["holidays"]}
    assert holidays[date(2027, 2, 6)] == ("Tết Nguyên Đán", "official")
    assert holidays[date(2026, 12, 31)] == ("Tất niên", "custom")
    assert date(2026, 11, 24) not in holidays and max(holidays) < date(2027, 11, 27)
    assert 'data-date="2027-02-06"' in html and 'href="/availability/"' in html


@time_machine.travel(NOW, tick=False)
def test_admin_saves_business_hours(admin: Client, admin_user: User) -> None:
    # When Saturday is closed and Monday opens at 07:30
    data = hours_form(d0_0_start="07:30", d5_0_start="", d5_0_end="")
    response = admin.post("/availability/hours", data)
    # Then they are saved
    assert response.status_code == 302
    stored = BusinessHours.objects.get()
    assert stored.weekly["0"] == [["07:30", "12:00"], ["13:30", "17:30"]] and stored.weekly["5"] == []
    assert stored.updated_by == admin_user


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"d0_1_start": "11:00"}, "d0_1_start", "11:00–17:30 overlaps 08:00–12:00"),
        ({"d2_0_end": "07:00"}, "d2_0_start", "the start 08:00 must be before the end 07:00"),
        ({"d3_0_end": ""}, "d3_0_end", "Give both the start and the end."),
        ({"d4_0_start": "8h"}, "d4_0_start", "“8h” is not a time (HH:MM)"),
        ({"country": "XX"}, "country", "Select a valid choice"),
    ],
)
def test_invalid_business_hours_name_the_field(
    admin: Client, changes: dict[str, str], field: str, message: str
) -> None:
    response = admin.post("/availability/hours", hours_form(**changes))
    assert response.status_code == 200
    errors = response.context["hours_form"].errors
    assert list(errors) == [field] and message in errors[field][0]
    assert not BusinessHours.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_admin_adds_and_removes_a_holiday(admin: Client) -> None:
    added = admin.post("/availability/holidays", {"date": "2027-02-20", "name": "Làm bù Tết", "is_working_day": "on"})
    assert added.status_code == 302
    assert list(Holiday.objects.values_list("date", "name", "is_working_day")) == [
        (date(2027, 2, 20), "Làm bù Tết", True)]  # fmt: skip
    again = admin.post("/availability/holidays", {"date": "2027-02-20", "name": "Nghỉ"})
    assert again.context["holiday_form"].errors == {"date": ["20/02/2027 already has an entry: Làm bù Tết"]}
    assert admin.post("/availability/holidays/2027-02-20/delete").status_code == 302
    assert not Holiday.objects.exists()
    assert admin.post("/availability/holidays/2027-02-21/delete").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_admin_adds_leave_for_a_rep(admin: Client, bob: User) -> None:
    data = {"user": bob.pk, "starts_at": "2026-12-01T08:00", "ends_at": "2026-12-02T17:30", "reason": "Cưới",
            "next": "overview"}  # fmt: skip
    assert admin.post("/availability/leave", data).status_code == 302
    assert list(Leave.objects.values_list("user", "starts_at", "ends_at", "reason")) == [
        (bob.pk, local("2026-12-01 08:00"), local("2026-12-02 17:30"), "Cưới")]  # fmt: skip
    clash = admin.post("/availability/leave", {**data, "starts_at": "2026-12-02T08:00", "ends_at": "2026-12-03T08:00"})
    assert clash.status_code == 200 and "starts_at" in clash.context["leave_form"].errors
    backwards = admin.post(
        "/availability/leave", {**data, "starts_at": "2026-12-05T08:00", "ends_at": "2026-12-04T08:00"}
    )
    assert backwards.context["leave_form"].errors == {"ends_at": ["the end must be after the start"]}
    assert Leave.objects.count() == 1


def test_admin_edits_a_rep_schedule(admin: Client, alice: User) -> None:
    page = admin.get(f"/availability/reps/{alice.pk}/")
    assert page.status_code == 200 and page.context["form"]["use_business_hours"].value() is True
    data = {"is_active": "on", "d6_0_start": "09:00", "d6_0_end": "12:00"}
    assert admin.post(f"/availability/reps/{alice.pk}/", data).status_code == 302
    schedule = RepSchedule.objects.get(user=alice)
    assert schedule.weekly == {**{str(d): [] for d in range(6)}, "6": [["09:00", "12:00"]]} and schedule.is_active
    assert admin.post(f"/availability/reps/{alice.pk}/", {"use_business_hours": "on"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.weekly is None and not schedule.is_active
    empty = admin.post(f"/availability/reps/{alice.pk}/", {"is_active": "on"})
    assert empty.status_code == 200 and empty.context["form"].non_field_errors()


def test_a_rep_cannot_configure(alice: User) -> None:
    client = logged_in(alice)
    for response in (
        client.get("/availability/"),
        client.post("/availability/hours", hours_form(d0_0_start="07:00")),
        client.post("/availability/holidays", {"date": "2027-01-02", "name": "Nghỉ"}),
        client.get(f"/availability/reps/{alice.pk}/"),
    ):
        assert response.status_code == 403
    assert not BusinessHours.objects.exists() and not Holiday.objects.exists() and not RepSchedule.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_rep_manages_their_own_leave_and_accepting_switch(alice: User, bob: User) -> None:
    client = logged_in(alice)
    # Given bob's leave
    bobs = leave(bob, "2026-12-01 08:00", "2026-12-01 17:30")
    # When alice opens her page, then she is available and the nav leads there
    page = client.get("/availability/me")
    assert page.status_code == 200 and page.context["available"] and 'href="/availability/me"' in page.content.decode()
    # When she adds leave, even naming bob, then it is hers
    data = {"user": bob.pk, "starts_at": "2026-12-07T08:00", "ends_at": "2026-12-07T12:00", "next": "overview"}
    assert client.post("/availability/leave", data).status_code == 302
    mine = Leave.objects.get(user=alice)
    assert (mine.starts_at, mine.created_by) == (local("2026-12-07 08:00"), alice)
    # And she cannot cancel bob's, but can cancel hers
    assert client.post(f"/availability/leave/{bobs.pk}/cancel").status_code == 403
    assert Leave.objects.filter(pk=bobs.pk).exists()
    assert client.post(f"/availability/leave/{mine.pk}/cancel", {"next": "me"}).status_code == 302
    assert not Leave.objects.filter(user=alice).exists()
    # When she stops accepting leads, then routing sees it
    assert client.post("/availability/me/accepting", {"accepting": "0"}).status_code == 302
    status = client.get("/availability/me").context
    assert (status["available"], status["why"], status["accepting"]) == (False, "not accepting leads", False)
    client.post("/availability/me/accepting", {"accepting": "1"})
    assert RepSchedule.objects.get(user=alice).is_active


@time_machine.travel(NOW, tick=False)
def test_invalid_own_leave_shows_on_my_page(alice: User) -> None:
    response = logged_in(alice).post("/availability/leave", {"starts_at": "2026-12-07T08:00", "ends_at": "nope",
                                                              "next": "me"})  # fmt: skip
    assert response.status_code == 200 and "ends_at" in response.context["leave_form"].errors
    assert not Leave.objects.exists()


def test_pages_render_in_vietnamese_and_need_a_login(admin_user: User, alice: User) -> None:
    for user, path in ((alice, "/availability/me"), (admin_user, "/availability/"),
                       (admin_user, f"/availability/reps/{alice.pk}/")):  # fmt: skip
        client = Client(headers={"Accept-Language": "vi"})
        client.force_login(user)
        assert client.get(path).status_code == 200
        assert Client().get(path).status_code == 302
