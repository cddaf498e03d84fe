from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.availability import actions
from nurture.availability.actions import AvailabilityError
from nurture.availability.calendar import Availability
from nurture.availability.forms import BusinessHoursForm, HolidayForm, LeaveForm, ScheduleForm
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule, Weekly
from nurture.core import clock

HOLIDAY_DAYS = 366  # the holiday list covers the coming 12 months
PAGES = {"overview": "availability:overview", "me": "availability:me"}


def describe_week(weekly: Weekly | None) -> str:
    """ "Mon–Fri 08:00–12:00, 13:30–17:30 · Sat 08:00–12:00": days with the same hours run together."""
    if not weekly:
        return ""
    groups: list[tuple[int, int, list[list[str]]]] = []
    for day in range(7):
        intervals = weekly.get(str(day)) or []
        if groups and groups[-1][2] == intervals and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, intervals)
        else:
            groups.append((day, day, intervals))
    parts = []
    for first, last, intervals in groups:
        if not intervals:
            continue
        days = str(WEEKDAYS_ABBR[first]) if first == last else f"{WEEKDAYS_ABBR[first]}–{WEEKDAYS_ABBR[last]}"
        parts.append(f"{days} {', '.join(f'{s}–{e}' for s, e in intervals)}")
    return " · ".join(parts) or _("no working hours")


def _apply(form: Any, exc: AvailabilityError) -> None:
    """An action's refusal shown on the form field it names (or on the whole form)."""
    field = exc.field.split(".")[0]
    form.add_error(field if field in form.fields else None, exc.message)


# --- the overview (admins, managers, marketers) ----------------------------------------------------------


def _overview(request: HttpRequest, **forms: Any) -> HttpResponse:
    now = clock.now()
    hours = BusinessHours.current()
    people = list(actions.reps())
    snapshot = Availability.load(people, now)
    weeks = dict(RepSchedule.objects.filter(user__in=people).values_list("user_id", "weekly"))
    leave: dict[int, list[Leave]] = defaultdict(list)
    for item in Leave.objects.filter(user__in=people, ends_at__gt=now).order_by("starts_at"):
        leave[item.user_id].append(item)
    rows = []
    for person in people:
        available, why = snapshot.is_available(person, now)
        weekly = weeks.get(person.pk)
        rows.append({"user": person, "available": available, "why": why, "leave": leave[person.pk],
                     "week": describe_week(weekly) if weekly else _("business hours")})  # fmt: skip
    today = timezone.localdate(now)
    context = {
        "hours": hours, "hours_form": forms.get("hours_form") or _hours_form(hours),
        "business_week": describe_week(hours.weekly), "holidays": actions.holidays_between(
            today, today + timedelta(days=HOLIDAY_DAYS)),
        "holiday_form": forms.get("holiday_form") or HolidayForm(),
        "leave_form": forms.get("leave_form") or LeaveForm(), "rows": rows, "now": now,
    }  # fmt: skip
    return render(request, "availability/overview.html", context)


def _hours_form(hours: BusinessHours, data: Any = None) -> BusinessHoursForm:
    initial = {"country": hours.country, "use_official_holidays": hours.use_official_holidays}
    return BusinessHoursForm(data, weekly=hours.weekly, initial=initial)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    return _overview(request)


@login_required
@require_POST
def save_hours(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = _hours_form(BusinessHours.current(), request.POST)
    weekly = form.weekly() if form.is_valid() else None
    if weekly is not None:
        try:
            actions.save_business_hours(weekly=weekly, country=form.cleaned_data["country"],
                                        use_official_holidays=form.cleaned_data["use_official_holidays"],
                                        actor=request.user)  # type: ignore[arg-type]  # fmt: skip
        except AvailabilityError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Business hours saved."))
            return redirect("availability:overview")
    return _overview(request, hours_form=form)


@login_required
@require_POST
def add_holiday(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = HolidayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.add_holiday(data["date"], data["name"], is_working_day=data["is_working_day"],
                                actor=request.user)  # type: ignore[arg-type]  # fmt: skip
        except AvailabilityError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("%(date)s added.") % {"date": data["date"].strftime("%d/%m/%Y")})
            return redirect("availability:overview")
    return _overview(request, holiday_form=form)


@login_required
@require_POST
def delete_holiday(request: HttpRequest, day: str) -> HttpResponse:
    require_configure(request)
    try:
        holiday = get_object_or_404(Holiday, date=date.fromisoformat(day))
    except ValueError:
        raise Http404 from None
    actions.delete_holiday(holiday, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("“%(name)s” removed.") % {"name": holiday.name})
    return redirect("availability:overview")


@login_required
def rep_schedule(request: HttpRequest, user_id: int) -> HttpResponse:
    """A rep's own week (or the business hours) and their accepting-leads switch."""
    require_configure(request)
    person = get_object_or_404(User, pk=user_id)
    schedule = RepSchedule.objects.filter(user=person).first()
    weekly = schedule.weekly if schedule and schedule.weekly else BusinessHours.current().weekly
    initial = {
        "use_business_hours": not (schedule and schedule.weekly),
        "is_active": not schedule or schedule.is_active,
    }
    form = ScheduleForm(request.POST or None, weekly=weekly, initial=initial)
    if request.method == "POST" and form.is_valid():
        week = None if form.cleaned_data["use_business_hours"] else form.weekly()
        if form.cleaned_data["use_business_hours"] or week is not None:
            try:
                actions.set_schedule(person, week, form.cleaned_data["is_active"], actor=request.user)  # type: ignore[arg-type]
            except AvailabilityError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Schedule of %(name)s saved.") % {"name": person.display_name})
                return redirect("availability:overview")
    return render(request, "availability/schedule.html", {"person": person, "form": form})


# --- leave: anyone's for admins and managers, their own for reps ----------------------------------------


@login_required
@require_POST
def add_leave(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("next") or ""
    page = page if page in PAGES else "overview"
    own = page == "me" or not request.user.can_configure  # type: ignore[union-attr]
    form = LeaveForm(request.POST, own=own)
    if form.is_valid():
        data = form.cleaned_data
        person = request.user if own else data["user"]
        if not actions.may_change_leave(request.user, person):  # type: ignore[arg-type]
            raise PermissionDenied
        try:
            actions.add_leave(person, data["starts_at"], data["ends_at"], data["reason"],  # type: ignore[arg-type]
                              actor=request.user)  # type: ignore[arg-type]  # fmt: skip
        except AvailabilityError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("Leave added."))
            return redirect(PAGES[page])
    if page == "me":
        return _me(request, leave_form=form)
    require_configure(request)
    return _overview(request, leave_form=form)


@login_required
@require_POST
def cancel_leave(request: HttpRequest, leave_id: int) -> HttpResponse:
    leave = get_object_or_404(Leave.objects.select_related("user"), pk=leave_id)
    if not actions.may_change_leave(request.user, leave.user):  # type: ignore[arg-type]
        raise PermissionDenied
    try:
        ended = actions.cancel_leave(leave, actor=request.user)  # type: ignore[arg-type]
    except AvailabilityError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Leave ended now.") if ended else _("Leave cancelled."))
    return redirect(PAGES.get(request.POST.get("next") or "", "availability:me"))


# --- my availability (everyone) ----------------------------------------------------------------------------


def _me(request: HttpRequest, **forms: Any) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    now = clock.now()
    available, why = Availability.load([user], now).is_available(user, now)
    schedule = RepSchedule.objects.filter(user=user).first()
    return render(request, "availability/me.html", {
        "available": available, "why": why, "accepting": not schedule or schedule.is_active,
        "week": describe_week(schedule.weekly if schedule and schedule.weekly else BusinessHours.current().weekly),
        "own_week": bool(schedule and schedule.weekly),
        "leave": Leave.objects.filter(user=user, ends_at__gt=now).order_by("starts_at"),
        "leave_form": forms.get("leave_form") or LeaveForm(own=True), "now": now,
    })  # fmt: skip


@login_required
def me(request: HttpRequest) -> HttpResponse:
    return _me(request)


@login_required
@require_POST
def accepting(request: HttpRequest) -> HttpResponse:
    on = request.POST.get("accepting") == "1"
    actions.set_accepting_leads(request.user, on, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("You are accepting new leads.") if on else _("You are not accepting new leads."))
    return redirect("availability:me")
