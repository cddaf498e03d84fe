"""Validation of hours, holidays, schedules and leave; what cancelling leave does."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.utils import translation

from nurture.accounts.models import User
from nurture.availability import actions
from nurture.availability.actions import AvailabilityError
from nurture.availability.models import WORKDAY, BusinessHours, Holiday, Leave, RepSchedule, default_weekly
from nurture.availability.tests.helpers import leave, local

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(AvailabilityError) as info:
        call(*args, **kwargs)
    return info.value.field, info.value.message


@pytest.mark.parametrize(
    ("weekly", "field", "message"),
    [
        ({"0": [["8:00", "12:00"]]}, "weekly.0.0", "“8:00” is not a time (HH:MM)"),
        ({"1": [["08:00", "12:60"]]}, "weekly.1.0", "“12:60” is not a time (HH:MM)"),
        ({"2": [["08:00", "24:30"]]}, "weekly.2.0", "“24:30” is not a time (HH:MM)"),
        ({"0": [["12:00", "08:00"]]}, "weekly.0.0", "the start 12:00 must be before the end 08:00"),
        ({"0": [["09:00", "09:00"]]}, "weekly.0.0", "the start 09:00 must be before the end 09:00"),
        ({"4": [["13:00", "17:00"], ["08:00", "13:30"]]}, "weekly.4.0", "13:00–17:00 overlaps 08:00–13:30"),
        ({"7": []}, "weekly.7", "not a weekday: 0 = Monday … 6 = Sunday"),
        ({"0": "08:00-12:00"}, "weekly.0", 'a list of intervals ["HH:MM", "HH:MM"]'),
        ({"0": [["08:00"]]}, "weekly.0.0", 'an interval is ["HH:MM", "HH:MM"]'),
        ({"0": [[800, 1200]]}, "weekly.0.0", 'an interval is ["HH:MM", "HH:MM"]'),
        ([["08:00", "12:00"]], "weekly", "an object of weekday (0 = Monday … 6 = Sunday) to intervals"),
        ({"6": []}, "weekly", "the business must be open at least one day a week"),
    ],
)
def test_business_hours_are_validated_naming_the_interval(weekly: Any, field: str, message: str) -> None:
    # When invalid hours are saved, then the interval at fault is named and nothing is written
    assert refused(actions.save_business_hours, weekly=weekly, actor=None) == (field, message)
    assert not BusinessHours.objects.exists()


def test_business_hours_are_saved_sorted_with_every_weekday(admin_user: User) -> None:
    # Given int keys, an unsorted day, a touching interval and a day ending at midnight
    weekly = {0: [["13:30", "17:30"], ["08:00", "12:00"]], 1: [["08:00", "12:00"], ["12:00", "24:00"]], "5": None}
    # When saved
    with time_machine.travel("2026-03-02 09:00 +07:00", tick=False):
        hours = actions.save_business_hours(weekly=weekly, country="vn", actor=admin_user)
    # Then it is stored sorted, with all seven days, and a new revision
    stored = BusinessHours.objects.get(pk=1)
    assert stored.weekly == {"0": WORKDAY, "1": [["08:00", "12:00"], ["12:00", "24:00"]], "2": [], "3": [], "4": [],
                             "5": [], "6": []}  # fmt: skip
    assert (stored.country, stored.use_official_holidays, stored.updated_by) == ("VN", True, admin_user)
    assert stored.revision == hours.revision
    assert actions.save_business_hours(weekly=default_weekly(), actor=None).revision != hours.revision


def test_an_unknown_country_is_refused() -> None:
    assert refused(actions.save_business_hours, weekly=default_weekly(), country="XX", actor=None) == (
        "country", "no holiday calendar for the country “XX”")  # fmt: skip


def test_holidays_are_one_per_date_and_need_a_name(admin_user: User) -> None:
    actions.add_holiday(date(2026, 3, 3), "Teambuilding", actor=admin_user)
    assert refused(actions.add_holiday, date(2026, 3, 3), "Again", actor=None) == (
        "date", "03/03/2026 already has an entry: Teambuilding")  # fmt: skip
    assert refused(actions.add_holiday, date(2026, 3, 4), "  ", actor=None) == ("name", "this field is required")
    assert refused(actions.add_holiday, date(2026, 3, 4), "x" * 121, actor=None) == ("name", "at most 120 characters")
    assert refused(actions.add_holiday, date(2026, 3, 4), "a\x00b", actor=None)[0] == "name"
    assert list(Holiday.objects.values_list("date", "name", "created_by")) == [
        (date(2026, 3, 3), "Teambuilding", admin_user.pk)]  # fmt: skip


def test_schedules(alice: User) -> None:
    schedule = actions.set_schedule(alice, {"0": [["09:00", "18:00"]]}, False, actor=None)
    assert RepSchedule.objects.get(user=alice).weekly == {
        "0": [["09:00", "18:00"]],
        **{str(d): [] for d in range(1, 7)},
    }
    assert schedule.is_active is False
    assert refused(actions.set_schedule, alice, {"0": []}, True, actor=None)[0] == "weekly"
    assert refused(actions.set_schedule, alice, {"0": [["18:00", "09:00"]]}, True, actor=None)[0] == "weekly.0.0"
    # The accepting switch keeps the week; None goes back to the business hours
    actions.set_accepting_leads(alice, True, actor=alice)
    assert (RepSchedule.objects.get(user=alice).weekly or {})["0"] == [["09:00", "18:00"]]
    actions.set_schedule(alice, None, True, actor=None)
    assert RepSchedule.objects.get(user=alice).weekly is None


def test_leave_is_validated_and_may_not_overlap(alice: User, bob: User) -> None:
    # Given alice's leave on Monday and Tuesday
    first = leave(alice, "2026-03-02 08:00", "2026-03-03 17:30", "Về quê")
    # Then overlapping leave of hers is refused, back-to-back leave and bob's are not
    assert refused(leave, alice, "2026-03-03 17:00", "2026-03-04 12:00") == (
        "starts_at", "overlaps the leave from 02/03/2026 08:00 to 03/03/2026 17:30")  # fmt: skip
    assert refused(leave, alice, "2026-03-01 08:00", "2026-03-09 08:00")[0] == "starts_at"
    leave(alice, "2026-03-03 17:30", "2026-03-04 12:00")
    leave(bob, "2026-03-02 09:00", "2026-03-02 10:00")
    # And the end must come after the start, within a year, with a short reason
    assert refused(leave, alice, "2026-04-02 08:00", "2026-04-02 08:00") == (
        "ends_at",
        "the end must be after the start",
    )
    assert refused(leave, alice, "2026-04-02 08:00", "2027-04-05 08:00") == ("ends_at", "at most a year at a time")
    assert refused(leave, alice, "2026-04-02 08:00", "2026-04-03 08:00", "x" * 501)[0] == "reason"
    assert Leave.objects.filter(user=alice).count() == 2 and Leave.objects.count() == 3
    assert (first.reason, first.starts_at) == ("Về quê", local("2026-03-02 08:00"))


def test_naive_leave_times_are_local(alice: User) -> None:
    item = actions.add_leave(alice, local("2026-03-02 08:00").replace(tzinfo=None),
                             local("2026-03-02 12:00").replace(tzinfo=None), actor=None)  # fmt: skip
    assert item.starts_at == local("2026-03-02 08:00")


def test_cancelling_leave(alice: User) -> None:
    coming = leave(alice, "2026-03-10 08:00", "2026-03-11 17:30")
    under_way = leave(alice, "2026-03-02 08:00", "2026-03-04 17:30")
    over = leave(alice, "2026-02-02 08:00", "2026-02-03 17:30")
    with time_machine.travel("2026-03-03 10:00 +07:00", tick=False):
        # Leave to come is deleted
        assert actions.cancel_leave(coming, actor=alice) is None
        assert not Leave.objects.filter(pk=coming.pk).exists()
        # Leave under way ends now
        ended = actions.cancel_leave(under_way, actor=alice)
        assert ended is not None and Leave.objects.get(pk=under_way.pk).ends_at == local("2026-03-03 10:00")
        # Leave that is over stays
        assert refused(actions.cancel_leave, over, actor=alice) == ("leave", "this leave is already over")
    assert Leave.objects.filter(user=alice).count() == 2


def test_who_may_change_leave(admin_user: User, alice: User, bob: User) -> None:
    assert actions.may_change_leave(admin_user, alice)
    assert actions.may_change_leave(alice, alice)
    assert not actions.may_change_leave(alice, bob)


def test_reps_are_active_sales_reps_and_managers(admin_user: User, alice: User, bob: User) -> None:
    manager = User.objects.create_user(username="quan.ly", role=User.Role.MANAGER)
    User.objects.create_user(username="mkt", role=User.Role.MARKETER)
    User.objects.create_user(username="gone", role=User.Role.SALES_REP, is_active=False)
    assert set(actions.reps()) == {alice, bob, manager}
