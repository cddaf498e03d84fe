"""The availability API: hours, holidays, reps' status, leave and SLA arithmetic."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import time_machine
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.availability import actions
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule
from nurture.availability.tests.helpers import leave, local

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 10:00 +07:00"  # a Wednesday
WEEKDAY = [["08:00", "12:00"], ["13:30", "17:30"]]


def key_client(user: User, scopes: list[str]) -> Client:
    _key, raw = create_api_key(name="availability", scopes=scopes, created_by=user)
    return Client(headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def client(admin_user: User) -> Client:
    return key_client(admin_user, ["contacts:read", "availability:write"])


@pytest.fixture
def reader(admin_user: User) -> Client:
    return key_client(admin_user, ["contacts:read"])


def test_business_hours_read_and_replaced(client: Client, reader: Client, admin_user: User) -> None:
    # Given the defaults
    got = send(reader, "get", "/api/v1/availability/business-hours").json()
    assert got["weekly"]["0"] == WEEKDAY and got["weekly"]["5"] == [["08:00", "12:00"]] and got["weekly"]["6"] == []
    assert (got["country"], got["use_official_holidays"], got["updated_at"]) == ("VN", True, None)
    # When they are replaced
    body = {"weekly": {"0": WEEKDAY, "1": WEEKDAY}, "country": "VN", "use_official_holidays": False}
    put = send(client, "put", "/api/v1/availability/business-hours", body)
    # Then they are stored, every weekday present
    assert put.status_code == 200, put.content
    assert put.json()["weekly"] == {"0": WEEKDAY, "1": WEEKDAY, **{str(d): [] for d in range(2, 7)}}
    assert BusinessHours.objects.get().use_official_holidays is False


def test_invalid_hours_are_a_422_naming_the_interval(client: Client) -> None:
    body = {"weekly": {"0": [["08:00", "12:00"], ["11:00", "13:00"]]}}
    response = send(client, "put", "/api/v1/availability/business-hours", body)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body", "weekly", "0", "1"], "type": "invalid",
                                           "msg": "11:00–13:00 overlaps 08:00–12:00"}]}  # fmt: skip
    country = send(client, "put", "/api/v1/availability/business-hours", {"weekly": {"0": WEEKDAY}, "country": "ZZ"})
    assert country.json()["detail"][0]["loc"] == ["body", "country"]
    assert not BusinessHours.objects.exists()


def test_writing_needs_the_scope(reader: Client, alice: User) -> None:
    assert send(reader, "put", "/api/v1/availability/business-hours", {"weekly": {"0": WEEKDAY}}).status_code == 403
    assert send(reader, "post", "/api/v1/availability/holidays", {"date": "2027-01-02", "name": "x"}).status_code == 403
    # A rep logged in has no availability:write either
    session = Client()
    session.force_login(alice)
    body = {"user_id": alice.pk, "starts_at": "2026-12-01T08:00", "ends_at": "2026-12-01T12:00"}
    assert send(session, "post", "/api/v1/availability/leave", body).status_code == 403
    assert send(session, "get", "/api/v1/availability/reps").status_code == 200
    assert not BusinessHours.objects.exists() and not Holiday.objects.exists() and not Leave.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_holidays(client: Client) -> None:
    # The coming year: official holidays, Tết included
    listed = send(client, "get", "/api/v1/availability/holidays").json()
    tet = next(h for h in listed if h["date"] == "2027-02-06")
    assert tet == {"date": "2027-02-06", "name": "Tết Nguyên Đán", "kind": "official",
                   "official_name": "Tết Nguyên Đán", "is_working_day": False}  # fmt: skip
    assert listed[0]["date"] == "2027-01-01" and all(h["kind"] == "official" for h in listed)
    # A custom working day over an official holiday
    body = {"date": "2027-04-16", "name": "Mở cửa", "is_working_day": True}
    created = send(client, "post", "/api/v1/availability/holidays", body)
    assert created.status_code == 201
    assert created.json() == {"date": "2027-04-16", "name": "Mở cửa", "kind": "custom",
                              "official_name": "Ngày Giỗ Tổ Hùng Vương", "is_working_day": True}  # fmt: skip
    again = send(client, "post", "/api/v1/availability/holidays", body)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "date"]
    # A window of dates
    window = send(client, "get", "/api/v1/availability/holidays?since=2027-04-01&until=2027-04-30").json()
    assert [(h["date"], h["kind"]) for h in window] == [("2027-04-16", "custom"), ("2027-04-30", "official")]
    bad = send(client, "get", "/api/v1/availability/holidays?since=2027-04-01&until=2027-03-01")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "until"]
    # Removed
    assert send(client, "delete", "/api/v1/availability/holidays/2027-04-16").status_code == 204
    assert send(client, "delete", "/api/v1/availability/holidays/2027-04-16").status_code == 404
    assert not Holiday.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_reps_status_now(reader: Client, alice: User, bob: User, charlie: User) -> None:
    # Given bob on leave, charlie not accepting leads
    on_leave = leave(bob, "2026-11-25 08:00", "2026-11-26 12:00", "Ốm")
    actions.set_accepting_leads(charlie, False, actor=None)
    # When the reps are listed
    reps = {r["username"]: r for r in send(reader, "get", "/api/v1/availability/reps").json()}
    # Then each has their status now
    assert {name: (r["available"], r["reason"]) for name, r in reps.items()} == {
        "alice": (True, ""), "bob": (False, "on leave until 26/11 12:00"), "charlie": (False, "not accepting leads"),
    }  # fmt: skip
    assert reps["bob"]["leave"] == [{"id": on_leave.pk, "user_id": bob.pk, "starts_at": "2026-11-25T08:00:00+07:00",
                                     "ends_at": "2026-11-26T12:00:00+07:00", "reason": "Ốm"}]  # fmt: skip
    assert reps["alice"]["weekly"] is None and reps["charlie"]["accepting_leads"] is False


@time_machine.travel(NOW, tick=False)
def test_a_rep_schedule_through_the_api(client: Client, alice: User) -> None:
    body = {"weekly": {"2": [["13:00", "21:00"]]}, "is_active": True}
    response = send(client, "put", f"/api/v1/availability/reps/{alice.pk}/schedule", body)
    assert response.status_code == 200
    assert (response.json()["available"], response.json()["reason"]) == (False, "outside working hours")
    assert (RepSchedule.objects.get(user=alice).weekly or {})["2"] == [["13:00", "21:00"]]
    bad = send(client, "put", f"/api/v1/availability/reps/{alice.pk}/schedule", {"weekly": {"2": [["21:00", "13:00"]]}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "weekly", "2", "0"]


@time_machine.travel(NOW, tick=False)
def test_leave_through_the_api(client: Client, alice: User, admin_user: User) -> None:
    # When leave is added (local time without an offset)
    body = {"user_id": alice.pk, "starts_at": "2026-12-01T08:00", "ends_at": "2026-12-02T17:30", "reason": "Cưới"}
    created = send(client, "post", "/api/v1/availability/leave", body)
    # Then it is stored, made by the key's creator
    assert created.status_code == 201, created.content
    item = Leave.objects.get()
    assert created.json() == {"id": item.pk, "user_id": alice.pk, "starts_at": "2026-12-01T08:00:00+07:00",
                              "ends_at": "2026-12-02T17:30:00+07:00", "reason": "Cưới"}  # fmt: skip
    assert item.created_by == admin_user
    # And overlapping, backwards and unknown users are refused naming the field
    overlap = send(client, "post", "/api/v1/availability/leave", {**body, "starts_at": "2026-12-02T01:00:00Z"})
    assert overlap.status_code == 422 and overlap.json()["detail"][0]["loc"] == ["body", "starts_at"]
    backwards = send(client, "post", "/api/v1/availability/leave", {**body, "ends_at": "2026-11-30T08:00"})
    assert backwards.json()["detail"][0]["loc"] == ["body", "ends_at"]
    nobody = send(client, "post", "/api/v1/availability/leave", {**body, "user_id": 999_999})
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert Leave.objects.count() == 1
    # When it is cancelled before it starts, it is gone
    assert send(client, "delete", f"/api/v1/availability/leave/{item.pk}").status_code == 204
    assert send(client, "delete", f"/api/v1/availability/leave/{item.pk}").status_code == 404


def test_leave_under_way_ends_now_and_leave_over_stays(client: Client, alice: User) -> None:
    under_way = leave(alice, "2026-11-24 08:00", "2026-11-27 17:30")
    with time_machine.travel(NOW, tick=False):
        ended = send(client, "delete", f"/api/v1/availability/leave/{under_way.pk}")
        assert ended.status_code == 200 and ended.json()["ends_at"] == "2026-11-25T10:00:00+07:00"
    with time_machine.travel("2026-12-01 10:00 +07:00", tick=False):
        over = send(client, "delete", f"/api/v1/availability/leave/{under_way.pk}")
        assert over.status_code == 409
    assert Leave.objects.get().ends_at == local("2026-11-25 10:00")


def test_add_minutes(reader: Client, alice: User) -> None:
    # The business's clock, a start given in UTC: Wednesday 16:00 here, 120 minutes
    business = send(reader, "get", "/api/v1/availability/add-minutes?start=2026-11-25T09:00:00Z&minutes=120").json()
    assert business == {"start": "2026-11-25T16:00:00+07:00", "minutes": 120.0, "user_id": None,
                        "due_at": "2026-11-26T08:30:00+07:00"}  # fmt: skip
    # A lead at 16:00 on 29 Tết 2027: due after Tết
    tet = send(reader, "get", "/api/v1/availability/add-minutes?start=2027-02-04T16:00&minutes=120").json()
    assert tet["due_at"] == "2027-02-11T10:00:00+07:00"
    # A rep's clock skips their leave
    leave(alice, "2026-11-26 08:00", "2026-11-26 17:30")
    path = f"/api/v1/availability/add-minutes?start=2026-11-25T16:00&minutes=120&user_id={alice.pk}"
    assert send(reader, "get", path).json()["due_at"] == "2026-11-27T08:30:00+07:00"
    # Bad input names the parameter
    unknown = send(reader, "get", "/api/v1/availability/add-minutes?start=2026-11-25T16:00&minutes=5&user_id=999999")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["query", "user_id"]
    negative = send(reader, "get", "/api/v1/availability/add-minutes?start=2026-11-25T16:00&minutes=-5")
    assert negative.status_code == 422 and negative.json()["detail"][0]["loc"][-1] == "minutes"


def test_holiday_rows_match_the_calendar() -> None:
    actions.add_holiday(date(2027, 2, 20), "Làm bù", is_working_day=True, actor=None)
    rows = actions.holidays_between(date(2027, 2, 1), date(2027, 2, 28))
    assert [(r.date.day, r.kind, r.is_working_day) for r in rows] == [
        *((d, "official", False) for d in range(4, 11)), (20, "custom", True)]  # fmt: skip
