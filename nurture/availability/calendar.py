"""Working time: is a day a business day, is a rep available now, when is an SLA due.

Lead routing asks `is_available` for ~30 reps per lead at up to 100 leads a second, so everything is computed
from an `Availability` snapshot: `Availability.load(users, around)` reads the business hours, the holidays,
the users' schedules and their leave in at most four queries (the hours and holidays are kept per process while
BusinessHours.revision stands, so usually two), and answers from memory afterwards. The module functions are
thin wrappers that load a snapshot for one question; callers asking many questions load one themselves.

Rules (docs/availability.md):
- a day is off when it is a custom Holiday that is not a working day, or, with `use_official_holidays`, an
  official public holiday of the country (python-holidays) without a custom row saying otherwise; nobody
  works on a day off, whatever their schedule;
- a Holiday with `is_working_day` is worked whatever the calendar says, with a full day's hours: the weekday's
  own hours when that is the longest day of the week, else the longest day's (a make-up Saturday is worked
  like a Monday, not like a usual half-day Saturday);
- on other days the hours are the weekday's in the user's own week (RepSchedule.weekly), else the business's;
- leave takes its span out of that user's hours.

Times are computed in UTC and shown in settings.TIME_ZONE: aware datetimes of any zone are accepted, naive ones
are taken as local time.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import holidays
from django.utils import timezone
from django.utils.translation import gettext as _
from holidays.registry import COUNTRIES

from nurture.accounts.models import User
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule
from nurture.core import clock

HORIZON_DAYS = 60  # leave loaded ahead of `around`; further questions load more
IDLE_DAYS = 400  # consecutive days without any working time after which an SLA can never be met
Span = tuple[datetime, datetime]
Minutes = tuple[tuple[int, int], ...]  # (start, end) in minutes after midnight, sorted
Week = dict[int, Minutes]


class NoWorkingTime(ValueError):
    """No working time at all in the next IDLE_DAYS days: the hours are empty, or the user is away that long."""


# --- the official calendar -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _official(country: str, year: int) -> dict[date, str]:
    # python-holidays falls back to the country's own language when it has no Vietnamese names.
    return dict(holidays.country_holidays(country, years=year, language="vi"))


def official_holidays(year: int, country: str = "VN") -> dict[date, str]:
    """The country's public holidays in `year` (including the lunar ones and days off in lieu), names in
    Vietnamese. Computed once per process and year."""
    return dict(_official(country, year))


@functools.cache
def supported_countries() -> dict[str, str]:
    """Country code -> English name ("Vietnam"), of every country python-holidays has a calendar for."""
    return {code: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name) for name, code, *_ in sorted(COUNTRIES.values())}


# --- weekly hours --------------------------------------------------------------------------------------


def minute_of_day(text: str) -> int:
    """ "08:30" -> 510; "24:00" -> 1440 (an interval may end at midnight). ValueError on anything else."""
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(text)
    return value


def parse_week(weekly: dict[str, Any] | None) -> Week:
    """A stored (already validated, see actions.clean_weekly) week in minutes; missing days are closed."""
    weekly = weekly or {}
    return {
        d: tuple(sorted((minute_of_day(s), minute_of_day(e)) for s, e in weekly.get(str(d)) or ())) for d in range(7)
    }


def _total(minutes: Minutes) -> int:
    return sum(e - s for s, e in minutes)


def _full_day(week: Week, weekday: int) -> Minutes:
    longest = max(_total(m) for m in week.values())
    if _total(week[weekday]) == longest:
        return week[weekday]
    return next(m for m in week.values() if _total(m) == longest)


@dataclass(frozen=True)
class Calendar:
    """The business hours and the holidays, parsed."""

    revision: Any
    week: Week
    country: str
    use_official: bool
    custom: dict[date, tuple[str, bool]]  # date -> (name, is_working_day)

    def day_off(self, day: date) -> tuple[str, bool] | None:
        """(name, is official) when the day is a holiday nobody works."""
        custom = self.custom.get(day)
        if custom is not None:
            return None if custom[1] else (custom[0], False)
        if self.use_official:
            name = _official(self.country, day.year).get(day)
            if name is not None:
                return name, True
        return None

    def hours(self, day: date, week: Week) -> Minutes:
        if self.day_off(day) is not None:
            return ()
        custom = self.custom.get(day)
        if custom is not None and custom[1]:
            return _full_day(week, day.weekday())
        return week[day.weekday()]

    def is_business_day(self, day: date) -> bool:
        return bool(self.hours(day, self.week))


_cached: Calendar | None = None


def load_calendar() -> Calendar:
    """The calendar now: one query while the stored revision is the cached one, two when it changed."""
    global _cached
    row = BusinessHours.current()
    cached = _cached
    if not row._state.adding and cached is not None and cached.revision == row.revision:
        return cached
    custom = {d: (name, working) for d, name, working in Holiday.objects.values_list("date", "name", "is_working_day")}
    calendar = Calendar(row.revision, parse_week(row.weekly), row.country, row.use_official_holidays, custom)
    if not row._state.adding:  # the unsaved defaults have no revision anyone bumps: never cached
        _cached = calendar
    return calendar


def clear_cache() -> None:
    global _cached
    _cached = None


# --- the snapshot --------------------------------------------------------------------------------------


@dataclass
class _Person:
    week: Week | None  # None: the business hours
    accepting: bool


class Availability:
    """Everything needed to answer availability and SLA questions for some users over the next weeks.

    Load one per batch of questions (a lead to route, a page of reps), not per process: it does not see
    changes made after it was loaded. Users it was not loaded with, and dates beyond what it holds, are
    loaded when first asked about.
    """

    def __init__(self, calendar: Calendar, since: datetime, until: datetime) -> None:
        self.calendar = calendar
        self.tz: tzinfo = timezone.get_default_timezone()
        self._since, self._until = since, until
        self._people: dict[int, _Person] = {}
        self._leave: dict[int, list[Span]] = {}  # user id -> leave (UTC), sorted by start
        self._memo: dict[tuple[int | None, date], list[Span]] = {}

    @classmethod
    def load(cls, users: Iterable[User], around: datetime | None = None) -> Availability:
        """At most four queries, whatever the number of users."""
        at = _utc(around or clock.now())
        snapshot = cls(load_calendar(), at - timedelta(days=1), at + timedelta(days=HORIZON_DAYS))
        snapshot._add_users(list(users))
        return snapshot

    # --- questions

    def is_business_day(self, day: date) -> bool:
        return self.calendar.is_business_day(day)

    def holiday(self, day: date) -> str | None:
        """The name of the holiday that makes `day` a day off, if it is one."""
        off = self.calendar.day_off(day)
        return off[0] if off else None

    def working_intervals(self, day: date, user: User | None = None) -> list[Span]:
        """The day's working time (of the business, or of `user` less their leave), in local time."""
        return [(s.astimezone(self.tz), e.astimezone(self.tz)) for s, e in self._spans(day, self._uid(user))]

    def is_available(self, user: User, at: datetime) -> tuple[bool, str]:
        """(True, "") when `user` is working and taking leads at `at`; else (False, why), translated."""
        uid = self._rep_id(user)
        if not user.is_active or not self._people[uid].accepting:
            return False, _("not accepting leads")
        moment = _utc(at)
        local = moment.astimezone(self.tz)
        for _start, end in self._leave_between(uid, moment, moment + timedelta(microseconds=1)):
            until = self._leave_end(uid, end)
            shown = until.astimezone(self.tz)
            text = f"{shown:%d/%m %H:%M}" if shown.year == local.year else f"{shown:%d/%m/%Y %H:%M}"
            return False, _("on leave until %(until)s") % {"until": text}
        off = self.calendar.day_off(local.date())
        if off is not None:
            name, official = off
            if official:
                return False, _("public holiday: %(name)s") % {"name": name}
            return False, _("day off: %(name)s") % {"name": name}
        if any(s <= moment < e for s, e in self._spans(local.date(), uid)):
            return True, ""
        return False, _("outside working hours")

    def add_business_minutes(self, start: datetime, minutes: float, user: User | None = None) -> datetime:
        """The moment `minutes` of working time after `start`, in local time.

        Counting starts at `start` if it is within working time, else at the next opening; the result is the
        end of an interval (12:00, not 13:30) when the minutes run out exactly there.
        """
        if not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"minutes must be a finite number >= 0, not {minutes!r}")
        uid = self._uid(user)
        moment = _utc(start)
        remaining = timedelta(minutes=minutes)
        day, idle = moment.astimezone(self.tz).date(), 0
        while True:
            spans = self._spans(day, uid)
            for s, e in spans:
                if e <= moment:
                    continue
                s = max(s, moment)
                if remaining <= e - s:
                    return (s + remaining).astimezone(self.tz)
                remaining -= e - s
            idle = 0 if spans else idle + 1
            if idle > IDLE_DAYS:
                raise NoWorkingTime(f"no working time in the {IDLE_DAYS} days before {day}")
            day += timedelta(days=1)

    def business_minutes_between(self, start: datetime, end: datetime, user: User | None = None) -> float:
        """Working minutes in [start, end]; negative when `end` is before `start`."""
        first, last = _utc(start), _utc(end)
        if last < first:
            return -self.business_minutes_between(end, start, user)
        uid = self._uid(user)
        total = timedelta(0)
        day, final = first.astimezone(self.tz).date(), last.astimezone(self.tz).date()
        while day <= final:
            for s, e in self._spans(day, uid):
                overlap = min(e, last) - max(s, first)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total / timedelta(minutes=1)

    # --- loading

    def _uid(self, user: User | None) -> int | None:
        return None if user is None else self._rep_id(user)

    def _rep_id(self, user: User) -> int:
        if user.pk not in self._people:
            self._add_users([user])
        return user.pk

    def _add_users(self, users: Sequence[User]) -> None:
        ids = [u.pk for u in users if u.pk not in self._people]
        if not ids:
            return
        # Built aside, then published leave first: routing shares one snapshot between threads.
        people = {uid: _Person(week=None, accepting=True) for uid in ids}
        for uid, weekly, active in RepSchedule.objects.filter(user_id__in=ids).values_list(
            "user_id", "weekly", "is_active"
        ):
            people[uid] = _Person(week=parse_week(weekly) if weekly is not None else None, accepting=active)
        self._load_leave(ids, self._since, self._until)
        self._people.update(people)

    def _load_leave(self, ids: list[int], since: datetime, until: datetime) -> None:
        rows = Leave.objects.filter(user_id__in=ids, ends_at__gt=since, starts_at__lt=until)
        found: dict[int, list[Span]] = {uid: [] for uid in ids}
        for uid, s, e in rows.values_list("user_id", "starts_at", "ends_at"):
            found[uid].append((_utc(s), _utc(e)))
        for uid, spans in found.items():
            self._leave[uid] = sorted(spans)

    def _cover(self, since: datetime, until: datetime) -> None:
        """Make sure the leave held covers [since, until): one query for all users when it does not."""
        if since >= self._since and until <= self._until:
            return
        wider = min(self._since, since - timedelta(days=1)), max(self._until, until + timedelta(days=HORIZON_DAYS))
        if self._people:
            self._load_leave(list(self._people), *wider)
        self._since, self._until = wider  # only once the leave covers it (another thread may be asking)

    def _leave_between(self, uid: int, since: datetime, until: datetime) -> list[Span]:
        self._cover(since, until)
        return [(s, e) for s, e in self._leave[uid] if s < until and e > since]

    def _leave_end(self, uid: int, end: datetime) -> datetime:
        """When leave ending at `end` really ends: back-to-back leave counts as one."""
        while True:
            following = [e for s, e in self._leave_between(uid, end, end + timedelta(microseconds=1)) if e > end]
            if not following:
                return end
            end = max(following)

    def _spans(self, day: date, uid: int | None) -> list[Span]:
        key = (uid, day)
        spans = self._memo.get(key)
        if spans is None:
            week = self.calendar.week
            if uid is not None and self._people[uid].week is not None:
                week = self._people[uid].week  # type: ignore[assignment]
            spans = [(self._moment(day, s), self._moment(day, e)) for s, e in self.calendar.hours(day, week)]
            if uid is not None and spans:
                spans = _subtract(spans, self._leave_between(uid, spans[0][0], spans[-1][1]))
            self._memo[key] = spans
        return spans

    def _moment(self, day: date, minute: int) -> datetime:
        if minute == 24 * 60:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz).astimezone(UTC)


def _subtract(spans: list[Span], away: list[Span]) -> list[Span]:
    for a_start, a_end in away:
        kept: list[Span] = []
        for s, e in spans:
            if a_end <= s or a_start >= e:
                kept.append((s, e))
                continue
            if s < a_start:
                kept.append((s, a_start))
            if a_end < e:
                kept.append((a_end, e))
        spans = kept
    return spans


def _utc(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.astimezone(UTC)


# --- one question at a time ------------------------------------------------------------------------------


def _noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)), timezone.get_default_timezone())


def is_business_day(day: date) -> bool:
    return Availability.load([], around=_noon(day)).is_business_day(day)


def working_intervals(day: date, user: User | None = None) -> list[tuple[datetime, datetime]]:
    return Availability.load([user] if user else [], around=_noon(day)).working_intervals(day, user)


def is_available(user: User, at: datetime) -> tuple[bool, str]:
    return Availability.load([user], around=at).is_available(user, at)


def add_business_minutes(start: datetime, minutes: float, user: User | None = None) -> datetime:
    return Availability.load([user] if user else [], around=start).add_business_minutes(start, minutes, user)


def business_minutes_between(start: datetime, end: datetime, user: User | None = None) -> float:
    snapshot = Availability.load([user] if user else [], around=start)
    return snapshot.business_minutes_between(start, end, user)
