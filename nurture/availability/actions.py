"""Business hours, holidays, rep schedules and leave: every write, each in one transaction.

Any change to the hours or the holidays writes a new BusinessHours.revision in the same transaction, which is
how every process's cached calendar (calendar.load_calendar) learns that it is out of date.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.availability.calendar import minute_of_day, official_holidays, supported_countries
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule, Weekly
from nurture.core import clock

log = logging.getLogger(__name__)

MAX_INTERVALS = 6  # per weekday
NAME_LENGTH = 120
REASON_LENGTH = 500
LONGEST_LEAVE = timedelta(days=366)
WEEKDAYS = tuple(str(d) for d in range(7))
REP_ROLES = (User.Role.SALES_REP, User.Role.MANAGER)


class AvailabilityError(ValueError):
    """A change that is refused; `field` names the part at fault ("weekly.0.1" is Monday's second interval)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# --- reading -----------------------------------------------------------------------------------------


def reps() -> QuerySet[User]:
    """The people leads are routed to, as the availability page lists them: active sales reps and managers."""
    return User.objects.filter(is_active=True, role__in=REP_ROLES).order_by("first_name", "last_name", "username")


@dataclass(frozen=True)
class HolidayRow:
    """A date in the holiday list: an official holiday, a custom entry, or a custom entry over an official one."""

    date: date
    name: str
    official_name: str  # "" when the official calendar has nothing that day (or is not followed)
    custom: Holiday | None
    is_working_day: bool

    @property
    def kind(self) -> str:
        return "custom" if self.custom is not None else "official"


def holidays_between(since: date, until: date) -> list[HolidayRow]:
    """Every holiday and make-up working day from `since` to `until` (inclusive), by date."""
    hours = BusinessHours.current()
    official: dict[date, str] = {}
    if hours.use_official_holidays:
        for year in range(since.year, until.year + 1):
            official.update((d, n) for d, n in official_holidays(year, hours.country).items() if since <= d <= until)
    custom = {h.date: h for h in Holiday.objects.filter(date__gte=since, date__lte=until)}
    return [
        HolidayRow(date=day, name=custom[day].name if day in custom else official[day],
                   official_name=official.get(day, ""), custom=custom.get(day),
                   is_working_day=day in custom and custom[day].is_working_day)
        for day in sorted(official.keys() | custom.keys())
    ]  # fmt: skip


def may_change_leave(actor: User, user: User) -> bool:
    """Admins, managers and marketers change anyone's leave and accepting-leads switch; a rep only their own."""
    return actor.can_configure or actor.pk == user.pk


def local(moment: datetime) -> datetime:
    """An aware moment in local time; a naive one is taken as local time."""
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return timezone.localtime(moment)


# --- validation ----------------------------------------------------------------------------------------


def clean_weekly(raw: Any, *, field: str = "weekly") -> Weekly:
    """{"0": [["08:00", "12:00"], ...], ...} with every weekday, intervals sorted; raises AvailabilityError
    naming the weekday and interval at fault. Keys may be ints; a missing or null weekday is closed."""
    if not isinstance(raw, dict):
        raise AvailabilityError(field, _("an object of weekday (0 = Monday … 6 = Sunday) to intervals"))
    clean: Weekly = {}
    for key, intervals in raw.items():
        day = str(key)
        if day not in WEEKDAYS:
            raise AvailabilityError(f"{field}.{key}", _("not a weekday: 0 = Monday … 6 = Sunday"))
        if intervals is None:
            intervals = []
        if not isinstance(intervals, list):
            raise AvailabilityError(f"{field}.{day}", _('a list of intervals ["HH:MM", "HH:MM"]'))
        if len(intervals) > MAX_INTERVALS:
            raise AvailabilityError(f"{field}.{day}", _("at most %(n)d intervals a day") % {"n": MAX_INTERVALS})
        parsed = []
        for i, interval in enumerate(intervals):
            where = f"{field}.{day}.{i}"
            if not _is_pair_of_texts(interval):
                raise AvailabilityError(where, _('an interval is ["HH:MM", "HH:MM"]'))
            start, end = (_minutes(where, t) for t in interval)
            if start >= end:
                raise AvailabilityError(where, _("the start %(start)s must be before the end %(end)s") % {
                    "start": interval[0], "end": interval[1]})  # fmt: skip
            parsed.append((start, end, i, [interval[0], interval[1]]))
        parsed.sort()
        for (_s1, e1, _i1, first), (s2, _e2, i2, second) in zip(parsed, parsed[1:], strict=False):
            if s2 < e1:
                raise AvailabilityError(f"{field}.{day}.{i2}", _("%(a)s overlaps %(b)s") % {
                    "a": "–".join(second), "b": "–".join(first)})  # fmt: skip
        clean[day] = [p[3] for p in parsed]
    return {day: clean.get(day, []) for day in WEEKDAYS}


def _is_pair_of_texts(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(t, str) for t in value)


def _minutes(field: str, text: str) -> int:
    try:
        return minute_of_day(text)
    except ValueError:
        raise AvailabilityError(field, _("“%(value)s” is not a time (HH:MM)") % {"value": text}) from None


def _text(field: str, value: str, *, required: bool, limit: int) -> str:
    value = (value or "").strip()
    if required and not value:
        raise AvailabilityError(field, _("this field is required"))
    if len(value) > limit:
        raise AvailabilityError(field, _("at most %(n)d characters") % {"n": limit})
    if "\x00" in value:  # PostgreSQL refuses NUL characters in text
        raise AvailabilityError(field, _("NUL characters are not allowed"))
    return value


def _has_hours(weekly: Weekly) -> bool:
    return any(weekly.values())


# --- business hours and holidays -----------------------------------------------------------------------


def save_business_hours(
    *, weekly: Any, country: str = "VN", use_official_holidays: bool = True, actor: User | None
) -> BusinessHours:
    clean = clean_weekly(weekly)
    if not _has_hours(clean):
        raise AvailabilityError("weekly", _("the business must be open at least one day a week"))
    country = (country or "").strip().upper()
    if country not in supported_countries():
        raise AvailabilityError("country", _("no holiday calendar for the country “%(code)s”") % {"code": country})
    with transaction.atomic():
        row, _created = BusinessHours.objects.select_for_update().get_or_create(pk=1)
        row.weekly, row.country, row.use_official_holidays = clean, country, use_official_holidays
        row.revision, row.updated_at, row.updated_by = uuid.uuid4(), clock.now(), actor
        row.save()
    log.info("business hours changed by %s", actor)
    return row


def _new_revision() -> None:
    """The holidays changed: make every process reload the calendar (creates the row the first time)."""
    BusinessHours.objects.update_or_create(pk=1, defaults={"revision": uuid.uuid4()})


def add_holiday(day: date, name: str, *, is_working_day: bool = False, actor: User | None) -> Holiday:
    """A company day off, or (is_working_day) a day worked whatever the calendar says. One per date."""
    name = _text("name", name, required=True, limit=NAME_LENGTH)
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(date=day, name=name, is_working_day=is_working_day, created_by=actor,
                                             created_at=clock.now())  # fmt: skip
            _new_revision()
    except IntegrityError:  # the unique date: there already, or added at the same moment by someone else
        existing = Holiday.objects.filter(date=day).first()
        raise AvailabilityError("date", _("%(date)s already has an entry: %(name)s") % {
            "date": date_format(day, "d/m/Y"), "name": existing.name if existing else ""}) from None  # fmt: skip
    return holiday


def delete_holiday(holiday: Holiday, *, actor: User | None) -> None:
    with transaction.atomic():
        Holiday.objects.filter(pk=holiday.pk).delete()
        _new_revision()
    log.info("holiday %s (%s) deleted by %s", holiday.date, holiday.name, actor)


# --- reps ----------------------------------------------------------------------------------------------


def set_schedule(user: User, weekly: Any | None, is_active: bool, *, actor: User | None = None) -> RepSchedule:
    """The user's own week (None: the business hours) and whether they take new leads."""
    clean = None
    if weekly is not None:
        clean = clean_weekly(weekly)
        if not _has_hours(clean):
            raise AvailabilityError("weekly", _("a week with no working hours; to stop leads, turn off accepting"))
    schedule, _created = RepSchedule.objects.update_or_create(
        user=user, defaults={"weekly": clean, "is_active": is_active, "updated_at": clock.now()}
    )
    log.info("schedule of %s set by %s (accepting leads: %s)", user, actor, is_active)
    return schedule


def set_accepting_leads(user: User, accepting: bool, *, actor: User | None = None) -> RepSchedule:
    """Only the "accepting leads" switch; the week stays as it is."""
    schedule, _created = RepSchedule.objects.update_or_create(
        user=user, defaults={"is_active": accepting, "updated_at": clock.now()}
    )
    log.info("%s accepting leads: %s (by %s)", user, accepting, actor)
    return schedule


def add_leave(user: User, starts_at: datetime, ends_at: datetime, reason: str = "", *, actor: User | None) -> Leave:
    """Leave for `user`; refused if it overlaps leave they already have (back-to-back is fine)."""
    starts_at, ends_at = local(starts_at), local(ends_at)
    if ends_at <= starts_at:
        raise AvailabilityError("ends_at", _("the end must be after the start"))
    if ends_at - starts_at > LONGEST_LEAVE:
        raise AvailabilityError("ends_at", _("at most a year at a time"))
    reason = _text("reason", reason, required=False, limit=REASON_LENGTH)
    with transaction.atomic():
        # The user's row is the lock: two overlapping requests for the same person are checked one at a time.
        User.objects.select_for_update().filter(pk=user.pk).first()
        clash = Leave.objects.filter(user=user, starts_at__lt=ends_at, ends_at__gt=starts_at).first()
        if clash is not None:
            raise AvailabilityError("starts_at", _("overlaps the leave from %(start)s to %(end)s") % {
                "start": _short(clash.starts_at), "end": _short(clash.ends_at)})  # fmt: skip
        leave = Leave.objects.create(user=user, starts_at=starts_at, ends_at=ends_at, reason=reason,
                                     created_by=actor, created_at=clock.now())  # fmt: skip
    log.info("leave %s added for %s by %s", leave.pk, user, actor)
    return leave


def cancel_leave(leave: Leave, *, actor: User | None) -> Leave | None:
    """Leave not started yet is deleted (None); leave under way ends now (the person is back), and is returned.
    Leave already over stays: it is history, and the SLA arithmetic of the past depends on it."""
    now = clock.now()
    with transaction.atomic():
        locked = Leave.objects.select_for_update().filter(pk=leave.pk).first()
        if locked is None:
            return None
        if locked.ends_at <= now:
            raise AvailabilityError("leave", _("this leave is already over"))
        if locked.starts_at >= now:
            locked.delete()
            log.info("leave %s of %s cancelled by %s", leave.pk, leave.user_id, actor)
            return None
        locked.ends_at = now
        locked.save(update_fields=["ends_at"])
    log.info("leave %s of %s ended early by %s", leave.pk, leave.user_id, actor)
    return locked


def _short(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d/%m/%Y %H:%M}"
