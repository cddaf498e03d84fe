"""Working-time arithmetic: business hours, holidays (official and custom), rep schedules, leave, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nurture.accounts.models import User
from nurture.availability import actions
from nurture.availability.calendar import (
    Availability,
    NoWorkingTime,
    add_business_minutes,
    business_minutes_between,
    is_available,
    is_business_day,
    official_holidays,
    working_intervals,
)
from nurture.availability.models import WORKDAY
from nurture.availability.tests.helpers import HCM, leave, local

pytestmark = pytest.mark.django_db
MON = "2026-03-02"  # a Monday with no holiday near it


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def spans(day: str, user: User | None = None) -> list[tuple[str, str]]:
    return [(f"{s:%H:%M}", f"{e:%H:%M}") for s, e in working_intervals(date.fromisoformat(day), user)]


# --- the official calendar ---------------------------------------------------------------------------------


def test_official_holidays_know_the_lunar_new_year_and_hung_kings_in_vietnamese() -> None:
    days = official_holidays(2027)
    assert days[date(2027, 2, 6)] == "Tết Nguyên Đán"
    assert days[date(2027, 4, 16)] == "Ngày Giỗ Tổ Hùng Vương"
    assert days[date(2027, 9, 2)] == "Quốc khánh"
    tet = sorted(d for d in days if date(2027, 2, 1) <= d <= date(2027, 2, 28))
    assert tet == [date(2027, 2, d) for d in range(4, 11)]  # 29 Tết to mùng năm


def test_business_days_follow_the_week_and_the_holidays() -> None:
    assert is_business_day(date(2026, 3, 2)) and is_business_day(date(2026, 3, 7))  # Monday, Saturday
    assert not is_business_day(date(2026, 3, 8))  # Sunday
    assert not is_business_day(date(2027, 2, 8))  # mùng ba Tết, a Monday
    assert not is_business_day(date(2026, 9, 2))  # national day


def test_default_business_hours() -> None:
    assert spans(MON) == [("08:00", "12:00"), ("13:30", "17:30")]
    assert spans("2026-03-07") == [("08:00", "12:00")]
    assert spans("2026-03-08") == []
    (start, end), _afternoon = working_intervals(date(2026, 3, 2))
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=7) and end.hour == 12


# --- adding business minutes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (f"{MON} 09:00", 30, f"{MON} 09:30"),
        (f"{MON} 11:30", 60, f"{MON} 14:00"),  # across the lunch break
        (f"{MON} 11:00", 60, f"{MON} 12:00"),  # ends exactly at noon: due at noon, not at 13:30
        (f"{MON} 12:15", 15, f"{MON} 13:45"),  # starts in the lunch break
        ("2026-03-06 17:00", 60, "2026-03-07 08:30"),  # Friday evening: Saturday morning is open
        ("2026-03-07 11:30", 60, "2026-03-09 08:30"),  # Saturday noon: Sunday is closed
        ("2026-03-02 22:00", 10, "2026-03-03 08:10"),  # at night
        ("2026-03-03 05:00", 0, "2026-03-03 08:00"),  # zero minutes outside hours: the next opening
        (f"{MON} 09:00", 8 * 60, "2026-03-03 09:00"),  # a full working day later: the same time tomorrow
        ("2026-03-02 08:00", 0.5, "2026-03-02 08:00:30"),
    ],
)
def test_add_business_minutes(start: str, minutes: float, due: str) -> None:
    assert add_business_minutes(local(start), minutes) == local(due)


def test_a_lead_before_tet_waits_until_after_tet() -> None:
    # Given a lead at 16:00 on 29 Tết 2027 (itself a holiday) with a 120-minute SLA
    # When the deadline is computed
    due = add_business_minutes(local("2027-02-04 16:00"), 120)
    # Then it is two working hours into the first day after mùng năm: Thursday 11 February
    assert due == local("2027-02-11 10:00")
    # And a lead on the last working day before Tết carries over too
    assert add_business_minutes(local("2027-02-03 17:00"), 60) == local("2027-02-11 08:30")


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 2, 4, 30, tzinfo=UTC),  # 11:30 in Hồ Chí Minh City
        datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("America/New_York")),  # 11:30 on Monday there
        datetime(2026, 3, 2, 11, 30),  # naive: local time
    ],
)
def test_start_in_any_time_zone(start: datetime) -> None:
    due = add_business_minutes(start, 60)
    assert due == local(f"{MON} 14:00")
    assert due.utcoffset() == timedelta(hours=7)  # returned in local time


def test_utc_start_during_the_night_here() -> None:
    # 20:00 UTC on Monday is 03:00 on Tuesday here
    assert add_business_minutes(datetime(2026, 3, 2, 20, 0, tzinfo=UTC), 30) == local("2026-03-03 08:30")


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_minutes(local(f"{MON} 09:00"), -1)


def test_a_week_without_hours_never_ends() -> None:
    snapshot = Availability.load([], local(MON))
    snapshot.calendar = type(snapshot.calendar)(None, {d: () for d in range(7)}, "VN", True, {})
    with pytest.raises(NoWorkingTime):
        snapshot.add_business_minutes(local(MON), 10)


def test_business_minutes_between() -> None:
    assert business_minutes_between(local(f"{MON} 11:30"), local("2026-03-03 09:00")) == 30 + 240 + 60
    assert business_minutes_between(local("2026-03-06 17:00"), local("2026-03-09 08:30")) == 30 + 240 + 30
    assert business_minutes_between(local(f"{MON} 12:10"), local(f"{MON} 13:00")) == 0
    assert business_minutes_between(local(f"{MON} 10:00"), local(f"{MON} 09:00")) == -60
    assert business_minutes_between(local("2027-02-03 17:00"), local("2027-02-11 08:00")) == 30


# --- custom holidays and make-up days -----------------------------------------------------------------------


def test_a_company_day_off_closes_the_day() -> None:
    actions.add_holiday(date(2026, 3, 3), "Teambuilding", actor=None)
    assert not is_business_day(date(2026, 3, 3))
    assert add_business_minutes(local(f"{MON} 17:00"), 60) == local("2026-03-04 08:30")


def test_a_compensatory_saturday_is_a_full_working_day() -> None:
    # Given Saturday 22/08/2026 made a working day (to make up for the bridge day off on Monday 31/08)
    actions.add_holiday(date(2026, 8, 22), "Làm bù cho 31/08", is_working_day=True, actor=None)
    # Then it has a weekday's hours, not the usual Saturday morning
    assert spans("2026-08-22") == [("08:00", "12:00"), ("13:30", "17:30")]
    assert add_business_minutes(local("2026-08-22 11:00"), 120) == local("2026-08-22 14:30")
    # And a made-up Sunday is worked too
    actions.add_holiday(date(2026, 8, 23), "Làm bù", is_working_day=True, actor=None)
    assert is_business_day(date(2026, 8, 23)) and spans("2026-08-23") == [("08:00", "12:00"), ("13:30", "17:30")]


def test_a_custom_working_day_overrides_an_official_holiday() -> None:
    assert not is_business_day(date(2026, 11, 24))  # Ngày Văn hóa Việt Nam
    actions.add_holiday(date(2026, 11, 24), "Mở cửa", is_working_day=True, actor=None)
    assert is_business_day(date(2026, 11, 24))
    assert add_business_minutes(local("2026-11-24 08:00"), 60) == local("2026-11-24 09:00")


def test_official_holidays_can_be_ignored() -> None:
    actions.save_business_hours(weekly={str(d): WORKDAY for d in range(5)}, use_official_holidays=False, actor=None)
    assert is_business_day(date(2026, 9, 2))
    assert not is_business_day(date(2026, 3, 7))  # Saturday closed now
    assert add_business_minutes(local("2026-03-06 17:00"), 60) == local("2026-03-09 08:30")


# --- reps: schedules, leave, the accepting switch ---------------------------------------------------------------


def test_a_rep_schedule_replaces_the_business_hours(alice: User, bob: User) -> None:
    # Given alice works afternoons and Sundays, bob the business hours
    actions.set_schedule(alice, {"0": [["13:00", "21:00"]], "6": [["09:00", "12:00"]]}, True, actor=None)
    # Then her intervals are her own
    assert spans(MON, alice) == [("13:00", "21:00")]
    assert spans("2026-03-03", alice) == []
    assert spans("2026-03-08", alice) == [("09:00", "12:00")]
    assert spans(MON, bob) == [("08:00", "12:00"), ("13:30", "17:30")]
    # And her SLA runs on her hours
    assert add_business_minutes(local(f"{MON} 09:00"), 60, alice) == local(f"{MON} 14:00")
    assert add_business_minutes(local(f"{MON} 20:30"), 60, alice) == local("2026-03-08 09:30")
    assert is_available(alice, local(f"{MON} 20:00")) == (True, "")
    assert is_available(bob, local(f"{MON} 20:00")) == (False, "outside working hours")
    # But nobody works on a public holiday, whatever their week says
    assert spans("2027-02-08", alice) == []


def test_leave_makes_a_rep_unavailable_and_pauses_their_clock(alice: User, bob: User) -> None:
    # Given alice is on leave from Monday 10:00 to Tuesday 12:00
    leave(alice, f"{MON} 10:00", "2026-03-03 12:00", "Ốm")
    # Then she is unavailable during it, with when she is back
    assert is_available(alice, local(f"{MON} 11:00")) == (False, "on leave until 03/03 12:00")
    assert is_available(alice, local(f"{MON} 09:59")) == (True, "")
    assert is_available(alice, local("2026-03-03 13:30")) == (True, "")
    assert is_available(bob, local(f"{MON} 11:00")) == (True, "")
    # And her working time skips it, the business's does not
    assert spans(MON, alice) == [("08:00", "10:00")]
    assert spans("2026-03-03", alice) == [("13:30", "17:30")]
    assert add_business_minutes(local(f"{MON} 09:30"), 60, alice) == local("2026-03-03 14:00")
    assert add_business_minutes(local(f"{MON} 09:30"), 60) == local(f"{MON} 10:30")
    assert business_minutes_between(local(f"{MON} 08:00"), local("2026-03-04 08:00"), alice) == 120 + 240


def test_back_to_back_leave_reads_as_one(alice: User) -> None:
    leave(alice, f"{MON} 08:00", f"{MON} 17:30")
    leave(alice, f"{MON} 17:30", "2026-03-06 17:30")
    assert is_available(alice, local(f"{MON} 09:00")) == (False, "on leave until 06/03 17:30")


def test_reasons_for_holidays_and_the_accepting_switch(alice: User) -> None:
    assert is_available(alice, local("2027-02-06 09:00")) == (False, "public holiday: Tết Nguyên Đán")
    actions.add_holiday(date(2026, 3, 3), "Teambuilding", actor=None)
    assert is_available(alice, local("2026-03-03 09:00")) == (False, "day off: Teambuilding")
    assert is_available(alice, local("2026-03-08 09:00")) == (False, "outside working hours")
    assert is_available(alice, local(f"{MON} 12:30")) == (False, "outside working hours")
    actions.set_accepting_leads(alice, False, actor=alice)
    assert is_available(alice, local(f"{MON} 09:00")) == (False, "not accepting leads")


# --- the snapshot -----------------------------------------------------------------------------------------------


def test_the_snapshot_answers_for_30_reps_in_a_few_queries(django_assert_max_num_queries: Any) -> None:
    # Given 30 reps, some with their own week, some on leave, some not accepting leads, and a custom holiday
    people = [User.objects.create_user(username=f"rep{i}", role=User.Role.SALES_REP) for i in range(30)]
    for person in people[:10]:
        actions.set_schedule(person, {"0": [["13:00", "21:00"]]}, True, actor=None)
    for person in people[10:20]:
        leave(person, f"{MON} 08:00", "2026-03-05 17:00")
    actions.set_accepting_leads(people[20], False, actor=None)
    actions.add_holiday(date(2026, 3, 20), "Dã ngoại", actor=None)
    now = local(f"{MON} 14:00")
    # When a lead is routed: the snapshot is loaded and asked about everyone and their deadlines
    with django_assert_max_num_queries(4):
        snapshot = Availability.load(people, now)
        answers = [snapshot.is_available(p, now) for p in people]
        dues = [snapshot.add_business_minutes(now, 600, p) for p in people]
    # Then the answers are right
    assert [a for a, _why in answers] == [True] * 10 + [False] * 11 + [True] * 9
    assert dues[0] == local("2026-03-09 16:00") and dues[10] == local("2026-03-07 09:30")
    assert dues[29] == local("2026-03-03 16:00")
    # And the next snapshot reuses the cached calendar
    with django_assert_max_num_queries(3):
        Availability.load(people, now).is_available(people[0], now)


def test_the_cache_sees_changes_made_through_actions() -> None:
    assert is_business_day(date(2026, 3, 3))
    holiday = actions.add_holiday(date(2026, 3, 3), "Teambuilding", actor=None)
    assert not is_business_day(date(2026, 3, 3))
    actions.delete_holiday(holiday, actor=None)
    assert is_business_day(date(2026, 3, 3))
    actions.save_business_hours(weekly={"0": WORKDAY}, actor=None)
    assert not is_business_day(date(2026, 3, 3))


def test_the_snapshot_loads_leave_beyond_its_horizon(alice: User) -> None:
    leave(alice, "2026-06-01 00:00", "2026-06-30 00:00")
    snapshot = Availability.load([alice], local(MON))
    assert snapshot.working_intervals(date(2026, 6, 2), alice) == []
    assert snapshot.add_business_minutes(local("2026-05-30 11:30"), 60, alice) == local("2026-06-30 08:30")


# --- the inverse property ------------------------------------------------------------------------------------------

ZONES = st.sampled_from([HCM, UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.datetimes(min_value=datetime(2026, 12, 1), max_value=datetime(2027, 3, 31), timezones=ZONES),
    minutes=st.one_of(st.integers(0, 6000).map(float), st.floats(0, 6000, allow_nan=False)),
    for_alice=st.booleans(),
)
def test_business_minutes_between_inverts_add_business_minutes(
    alice: User, start: datetime, minutes: float, for_alice: bool
) -> None:
    if not alice.leaves.exists():
        leave(alice, "2026-12-30 10:00", "2027-01-05 15:00")
        actions.add_holiday(date(2027, 3, 6), "Làm bù", is_working_day=True, actor=None)
    user = alice if for_alice else None
    due = add_business_minutes(start, minutes, user)
    assert due >= start
    assert business_minutes_between(start, due, user) == pytest.approx(minutes, abs=1e-6)
