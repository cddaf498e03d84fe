"""When the business and each sales rep work: business hours, holidays, rep schedules and leave.

The arithmetic over these (is a rep available now, when is an SLA due) is in calendar.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# Weekday (0 = Monday ... 6 = Sunday, as date.weekday()) -> ["HH:MM", "HH:MM"] intervals, sorted, not overlapping.
# JSON object keys are strings, so the weekdays are stored as "0".."6".
Weekly = dict[str, list[list[str]]]

WORKDAY = [["08:00", "12:00"], ["13:30", "17:30"]]


def default_weekly() -> Weekly:
    """Monday to Friday 08:00-12:00 and 13:30-17:30, Saturday morning, Sunday closed."""
    return {**{str(d): [list(i) for i in WORKDAY] for d in range(5)}, "5": [["08:00", "12:00"]], "6": []}


class BusinessHours(models.Model):
    """The one row (pk=1) of business hours and the holiday calendar they follow."""

    weekly = models.JSONField(_("opening hours"), default=default_weekly)
    # The country whose public holidays are days off (python-holidays' code), when use_official_holidays.
    country = models.CharField(_("country"), max_length=3, default="VN")
    use_official_holidays = models.BooleanField(_("official public holidays are days off"), default=True)
    # Every change to the hours or to a Holiday writes a new value here. calendar.py keeps the parsed calendar
    # per process while the value stands. A random value rather than updated_at: a frozen test clock (or two
    # saves in one clock tick) would give two different calendars the same timestamp.
    revision = models.UUIDField(default=uuid.uuid4)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"business hours ({self.country})"

    @classmethod
    def current(cls) -> BusinessHours:
        """The stored row, or the defaults (unsaved) before anyone has changed them."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Holiday(models.Model):
    """A company day off on top of the official calendar, or an override of it.

    `is_working_day` makes the date a working day whatever the calendar says: a Saturday worked to make up for
    a bridge day off, or an official holiday the business stays open on.
    """

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    is_working_day = models.BooleanField(_("working day"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class RepSchedule(models.Model):
    """A user's own week and whether they take new leads. No row: the business hours, accepting leads."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule")
    # Same shape as BusinessHours.weekly; null follows the business hours.
    weekly = models.JSONField(_("working hours"), null=True, blank=True)
    is_active = models.BooleanField(_("accepting leads"), default=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"schedule of {self.user_id}"


class Leave(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leaves", db_index=False)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="leave_ends_after_start")]
        # Snapshots ask "these users' leave ending after X": the index serves that and lookups by user.
        indexes = [models.Index(fields=["user", "ends_at"], name="leave_user_ends")]

    def __str__(self) -> str:
        return f"leave of {self.user_id} {self.starts_at:%Y-%m-%d %H:%M} - {self.ends_at:%Y-%m-%d %H:%M}"
