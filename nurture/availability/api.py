"""Business hours, holidays, reps' status and leave, and SLA arithmetic, through the API."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey, User
from nurture.availability import actions
from nurture.availability.actions import AvailabilityError
from nurture.availability.calendar import Availability, NoWorkingTime
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.core import clock

router = Router(tags=["availability"])
MAX_HOLIDAY_SPAN = timedelta(days=3 * 366)
MAX_MINUTES = 1_000_000
WEEKLY_DOC = 'weekday ("0" = Monday … "6" = Sunday) -> [["HH:MM", "HH:MM"], ...]'


class BusinessHoursIn(Schema):
    weekly: Any = Field(..., description=WEEKLY_DOC)
    country: str = Field("VN", description="whose public holidays are days off (ISO 3166 code)")
    use_official_holidays: bool = True


class BusinessHoursOut(BusinessHoursIn):
    updated_at: datetime | None


class HolidayIn(Schema):
    date: date
    name: str
    is_working_day: bool = Field(False, description="a day worked whatever the calendar says (a make-up Saturday)")


class HolidayOut(Schema):
    date: date
    name: str
    kind: str = Field(..., description="official (the country's calendar) or custom (added here)")
    official_name: str = Field(..., description="the official holiday on that date, if any, even when overridden")
    is_working_day: bool


class HolidayQuery(Schema):
    since: date | None = Field(None, description="default: today")
    until: date | None = Field(None, description="default: a year after `since`")


class LeaveIn(Schema):
    user_id: int
    starts_at: datetime = Field(..., description="without an offset: local time (Asia/Ho_Chi_Minh)")
    ends_at: datetime
    reason: str = ""


class LeaveOut(Schema):
    id: int
    user_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


class RepOut(Schema):
    user_id: int
    username: str
    name: str
    role: str
    available: bool = Field(..., description="working and accepting leads right now")
    reason: str = Field(..., description="why not, in the request's language; empty when available")
    accepting_leads: bool
    weekly: Any = Field(..., description=f"the rep's own week, {WEEKLY_DOC}; null: the business hours")
    leave: list[LeaveOut] = Field(..., description="leave under way or to come")


class ScheduleIn(Schema):
    weekly: Any = Field(None, description=f"{WEEKLY_DOC}; null: the business hours")
    is_active: bool = Field(True, description="accepting leads")


class AddMinutesQuery(Schema):
    start: datetime = Field(..., description="without an offset: local time")
    minutes: float = Field(..., ge=0, le=MAX_MINUTES)
    user_id: int | None = Field(None, description="count that rep's working time (their week, less leave)")


class AddMinutesOut(Schema):
    start: datetime
    minutes: float
    user_id: int | None
    due_at: datetime = Field(..., description="`minutes` of working time after `start`, in local time")


def _invalid(exc: AvailabilityError, *, where: str = "body") -> InvalidLead:
    error = InvalidLead([FieldError(exc.field, "invalid", exc.message)])
    error.loc_prefix = [where]  # type: ignore[attr-defined]
    return error


def _leave_out(leave: Leave) -> LeaveOut:
    return LeaveOut(id=leave.pk, user_id=leave.user_id, starts_at=timezone.localtime(leave.starts_at),
                    ends_at=timezone.localtime(leave.ends_at), reason=leave.reason)  # fmt: skip


def _hours_out(hours: BusinessHours) -> BusinessHoursOut:
    return BusinessHoursOut(weekly=hours.weekly, country=hours.country,
                            use_official_holidays=hours.use_official_holidays, updated_at=hours.updated_at)  # fmt: skip


@router.get("/business-hours", response=BusinessHoursOut, summary="Opening hours and the holiday calendar followed")
def get_business_hours(request: HttpRequest) -> BusinessHoursOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return _hours_out(BusinessHours.current())


@router.put("/business-hours", response=BusinessHoursOut, summary="Replace the opening hours")
def put_business_hours(request: HttpRequest, payload: BusinessHoursIn) -> BusinessHoursOut:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    try:
        hours = actions.save_business_hours(**payload.dict(), actor=acting_user(request))
    except AvailabilityError as exc:
        raise _invalid(exc) from None
    return _hours_out(hours)


@router.get("/holidays", response=list[HolidayOut], summary="Official and custom holidays (default: the coming year)")
def list_holidays(request: HttpRequest, query: Query[HolidayQuery]) -> list[HolidayOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    since = query.since or timezone.localdate(clock.now())
    until = query.until or since + timedelta(days=366)
    if until < since or until - since > MAX_HOLIDAY_SPAN:
        raise _invalid(AvailabilityError("until", "after `since`, at most three years later"), where="query")
    return [HolidayOut(date=r.date, name=r.name, kind=r.kind, official_name=r.official_name,
                       is_working_day=r.is_working_day) for r in actions.holidays_between(since, until)]  # fmt: skip


@router.post("/holidays", response={201: HolidayOut}, summary="Add a company day off or a make-up working day")
def add_holiday(request: HttpRequest, payload: HolidayIn) -> Status[HolidayOut]:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    try:
        holiday = actions.add_holiday(payload.date, payload.name, is_working_day=payload.is_working_day,
                                      actor=acting_user(request))  # fmt: skip
    except AvailabilityError as exc:
        raise _invalid(exc) from None
    row = actions.holidays_between(holiday.date, holiday.date)[0]
    return Status(201, HolidayOut(date=row.date, name=row.name, kind=row.kind, official_name=row.official_name,
                                  is_working_day=row.is_working_day))  # fmt: skip


@router.delete("/holidays/{day}", response={204: None}, summary="Remove a custom holiday (official ones stay)")
def delete_holiday(request: HttpRequest, day: date) -> Status[None]:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    actions.delete_holiday(get_object_or_404(Holiday, date=day), actor=acting_user(request))
    return Status(204, None)


@router.get("/reps", response=list[RepOut], summary="Sales reps and managers: available now, or why not")
def list_reps(request: HttpRequest) -> list[RepOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    now = clock.now()
    people = list(actions.reps())
    snapshot = Availability.load(people, now)
    schedules = {s.user_id: s for s in RepSchedule.objects.filter(user__in=people)}
    leave: dict[int, list[LeaveOut]] = defaultdict(list)
    for item in Leave.objects.filter(user__in=people, ends_at__gt=now).order_by("starts_at"):
        leave[item.user_id].append(_leave_out(item))
    out = []
    for person in people:
        available, reason = snapshot.is_available(person, now)
        schedule = schedules.get(person.pk)
        out.append(RepOut(user_id=person.pk, username=person.username, name=person.display_name, role=person.role,
                          available=available, reason=reason, accepting_leads=not schedule or schedule.is_active,
                          weekly=schedule.weekly if schedule else None, leave=leave[person.pk]))  # fmt: skip
    return out


@router.put("/reps/{user_id}/schedule", response=RepOut, summary="A rep's own week and accepting-leads switch")
def put_schedule(request: HttpRequest, user_id: int, payload: ScheduleIn) -> RepOut:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    person = get_object_or_404(User, pk=user_id)
    try:
        schedule = actions.set_schedule(person, payload.weekly, payload.is_active, actor=acting_user(request))
    except AvailabilityError as exc:
        raise _invalid(exc) from None
    now = clock.now()
    available, reason = Availability.load([person], now).is_available(person, now)
    upcoming = Leave.objects.filter(user=person, ends_at__gt=now).order_by("starts_at")
    return RepOut(user_id=person.pk, username=person.username, name=person.display_name, role=person.role,
                  available=available, reason=reason, accepting_leads=schedule.is_active, weekly=schedule.weekly,
                  leave=[_leave_out(item) for item in upcoming])  # fmt: skip


@router.post("/leave", response={201: LeaveOut}, summary="Add leave for a user (refused if it overlaps theirs)")
def add_leave(request: HttpRequest, payload: LeaveIn) -> Status[LeaveOut]:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    person = User.objects.filter(pk=payload.user_id).first()
    if person is None:
        raise InvalidLead([FieldError("user_id", "not_found", f"no such user: {payload.user_id}")])
    try:
        leave = actions.add_leave(person, payload.starts_at, payload.ends_at, payload.reason,
                                  actor=acting_user(request))  # fmt: skip
    except AvailabilityError as exc:
        raise _invalid(exc) from None
    return Status(201, _leave_out(leave))


@router.delete("/leave/{leave_id}", response={200: LeaveOut, 204: None},
               summary="Cancel leave to come (204), or end leave under way now (200, the shortened leave)")  # fmt: skip
def cancel_leave(request: HttpRequest, leave_id: int) -> Status[Any]:
    require_scope(request, ApiKey.Scope.AVAILABILITY_WRITE)
    leave = get_object_or_404(Leave, pk=leave_id)
    try:
        ended = actions.cancel_leave(leave, actor=acting_user(request))
    except AvailabilityError as exc:
        raise HttpError(409, exc.message) from None
    return Status(200, _leave_out(ended)) if ended else Status(204, None)


@router.get("/add-minutes", response=AddMinutesOut, summary="When `minutes` of working time after `start` end")
def add_minutes(request: HttpRequest, query: Query[AddMinutesQuery]) -> AddMinutesOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    person = None
    if query.user_id is not None:
        person = User.objects.filter(pk=query.user_id).first()
        if person is None:
            raise _invalid(AvailabilityError("user_id", f"no such user: {query.user_id}"), where="query")
    try:
        due = Availability.load([person] if person else [], query.start).add_business_minutes(
            query.start, query.minutes, person
        )
    except NoWorkingTime as exc:
        raise _invalid(AvailabilityError("minutes", str(exc)), where="query") from None
    return AddMinutesOut(start=actions.local(query.start), minutes=query.minutes, user_id=query.user_id, due_at=due)
