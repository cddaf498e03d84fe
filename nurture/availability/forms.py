from __future__ import annotations

from typing import Any

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import User
from nurture.availability.actions import REASON_LENGTH, AvailabilityError, clean_weekly, reps
from nurture.availability.calendar import supported_countries
from nurture.availability.models import Weekly

SLOTS = 2  # intervals shown per weekday; more appear when a week set through the API has more
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"]


def _time_input() -> forms.CharField:
    return forms.CharField(required=False, max_length=5, widget=forms.TimeInput(attrs={"type": "time"}))


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMATS[0])


def _country_choices() -> list[tuple[str, str]]:
    return [(code, f"{name} ({code})") for code, name in supported_countries().items()]


class WeeklyForm(forms.Form):
    """One row per weekday with its intervals as d<day>_<slot>_start / _end (HH:MM); `weekly()` the result."""

    def __init__(self, *args: Any, weekly: Weekly | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weekly = weekly or {}
        self.slots: dict[int, int] = {}
        for day in range(7):
            intervals = weekly.get(str(day)) or []
            self.slots[day] = max(SLOTS, len(intervals))
            for slot in range(self.slots[day]):
                for part, value in zip(("start", "end"), intervals[slot] if slot < len(intervals) else ("", ""),
                                       strict=True):  # fmt: skip
                    name = f"d{day}_{slot}_{part}"
                    self.fields[name] = _time_input()
                    self.initial.setdefault(name, value)

    def days(self) -> list[tuple[str, list[tuple[forms.BoundField, forms.BoundField]]]]:
        """(weekday name, [(start, end), ...]) for the template."""
        return [
            (WEEKDAYS[day], [(self[f"d{day}_{s}_start"], self[f"d{day}_{s}_end"]) for s in range(self.slots[day])])
            for day in range(7)
        ]

    def weekly(self) -> Weekly | None:
        """The week typed in, validated; None after adding the errors to the fields at fault."""
        raw: dict[str, list[list[str]]] = {}
        where: dict[tuple[str, int], str] = {}  # (weekday, index in raw) -> the start field
        for day in range(7):
            raw[str(day)] = []
            for slot in range(self.slots[day]):
                start = (self.cleaned_data.get(f"d{day}_{slot}_start") or "").strip()
                end = (self.cleaned_data.get(f"d{day}_{slot}_end") or "").strip()
                if not start and not end:
                    continue
                if not start or not end:
                    self.add_error(
                        f"d{day}_{slot}_{'end' if start else 'start'}", _("Give both the start and the end.")
                    )
                    continue
                where[(str(day), len(raw[str(day)]))] = f"d{day}_{slot}_start"
                raw[str(day)].append([start, end])
        if self.errors:
            return None
        try:
            return clean_weekly(raw)
        except AvailabilityError as exc:
            parts = exc.field.split(".")
            field = where.get((parts[1], int(parts[2]))) if len(parts) == 3 and parts[2].isdigit() else None
            self.add_error(field, exc.message)
            return None


class BusinessHoursForm(WeeklyForm):
    country = forms.ChoiceField(label=_("Country of the public holidays"), choices=_country_choices)
    use_official_holidays = forms.BooleanField(label=_("Official public holidays are days off"), required=False)


class ScheduleForm(WeeklyForm):
    use_business_hours = forms.BooleanField(label=_("Works the business hours"), required=False)
    is_active = forms.BooleanField(label=_("Accepting leads"), required=False)


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                           input_formats=["%Y-%m-%d", "%d/%m/%Y"])  # fmt: skip
    name = forms.CharField(label=_("Name"), max_length=120)
    is_working_day = forms.BooleanField(
        label=_("Working day"), required=False,
        help_text=_("A day worked whatever the calendar says, e.g. a Saturday worked to make up for a day off."),
    )  # fmt: skip


class LeaveForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Who"), queryset=User.objects.none())
    starts_at = forms.DateTimeField(label=_("From"), input_formats=DATETIME_FORMATS, widget=_datetime_input())
    ends_at = forms.DateTimeField(label=_("Until"), input_formats=DATETIME_FORMATS, widget=_datetime_input())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=REASON_LENGTH,
                             widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args: Any, own: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if own:  # a rep's own leave: nobody to choose
            del self.fields["user"]
        else:
            self.fields["user"].queryset = reps()  # type: ignore[attr-defined]
            self.fields["user"].label_from_instance = lambda u: u.display_name  # type: ignore[attr-defined]
