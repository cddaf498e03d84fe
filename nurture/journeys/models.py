"""Nurture journeys: a trigger, a graph of steps (versioned), and one enrolment row per contact on its way.

The enrolment row is the only state of a contact's journey: its current step, when it is next due and what it
waits for. Workers claim due rows in batches (engine.run_due); nothing is held in memory between steps.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class Reenrol(models.TextChoices):
        NEVER = "never", _("Never: once per contact")
        ALWAYS = "always", _("Whenever triggered again (after finishing)")
        AFTER_DAYS = "after_days", _("Again after N days")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # What enrols a contact: see graph.validate_trigger and docs/journeys.md.
    trigger = models.JSONField(_("trigger"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    reenrol = models.CharField(_("re-enrolment"), max_length=10, choices=Reenrol.choices, default=Reenrol.NEVER)
    reenrol_days = models.PositiveIntegerField(_("re-enrol after (days)"), null=True, blank=True)
    quiet_hours = models.BooleanField(_("respect quiet hours"), default=True)
    # A contact condition (contacts.conditions); when it holds the contact has converted and leaves. {}: none.
    goal = models.JSONField(_("goal"), default=dict, blank=True)
    exit_on_unsubscribe = models.BooleanField(_("exit on unsubscribe"), default=True)
    # The draft being edited. Publishing copies it into a new JourneyVersion; running enrolments never see it.
    graph = models.JSONField(default=dict, blank=True)
    live_version = models.ForeignKey(
        "JourneyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template_key = models.CharField(max_length=50, blank=True)  # the ready-made template it was installed from
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_json(self) -> str:
        return json.dumps(self.trigger, ensure_ascii=False)

    @property
    def goal_json(self) -> str:
        return json.dumps(self.goal, ensure_ascii=False)

    @property
    def has_unpublished_changes(self) -> bool:
        return self.live_version is None or self.live_version.graph != self.graph


class JourneyVersion(models.Model):
    """A published graph. Enrolments keep theirs until moved explicitly (actions.move_enrolments)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["journey_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["journey", "number"], name="journey_version_unique")]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.number}"


class Enrolment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        WAITING = "waiting", _("Waiting")
        COMPLETED = "completed", _("Completed")
        CONVERTED = "converted", _("Converted")
        EXITED = "exited", _("Exited")
        FAILED = "failed", _("Failed")

    OPEN = (Status.ACTIVE, Status.WAITING)

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrolments")
    version = models.ForeignKey(JourneyVersion, on_delete=models.RESTRICT, related_name="enrolments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrolments")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    step = models.CharField(_("current step"), max_length=50)
    # Runs of each step so far, {step id: n}: the next run of a step is visit n + 1, which keys its StepRun and
    # its message, so a step on a loop runs once per visit and never twice for one.
    visits = models.JSONField(default=dict, blank=True)
    # When a worker should next look at it: now for an active one, the end of a wait, the timeout of a wait for
    # an event (null: waits for the event only). Null for finished ones.
    next_due_at = models.DateTimeField(null=True, blank=True)
    wait_event = models.CharField(max_length=40, blank=True)  # the event type a wait_event step waits for
    woken_by = models.BigIntegerField(null=True, blank=True)  # the Event id that ended that wait
    # What started it (the trigger event's id and type, the segment ...) and what templates may read of it.
    data = models.JSONField(default=dict, blank=True)
    entered_at = models.DateTimeField(_("entered"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # failed tries of the current step
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        indexes = [
            # The workers' claim: open enrolments by due time (finished rows are left out of the index).
            models.Index(fields=["next_due_at"], condition=Q(status__in=["active", "waiting"]), name="enrolment_due"),
            models.Index(fields=["contact", "journey"], name="enrolment_contact"),
            models.Index(fields=["journey", "status", "step"], name="enrolment_journey_step"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}:{self.contact_id} ({self.status} at {self.step})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class StepRun(models.Model):
    """One run of one step for one enrolment, written in the transaction that ran it (so it ran exactly once)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs", db_index=False)
    # Denormalised for the per-step counters of a journey, which group by (journey, step).
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+", db_index=False)
    step = models.CharField(max_length=50)
    visit = models.PositiveIntegerField(default=1)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=20)  # done, sent, skipped, yes, no, a split arm, event, timeout ...
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrolment", "step", "visit"], name="steprun_once")]
        indexes = [models.Index(fields=["journey", "step"], name="steprun_journey_step")]

    def __str__(self) -> str:
        return f"{self.enrolment_id}:{self.step}#{self.visit} {self.outcome}"
