"""The sales pipeline: pipelines and their stages, deals, lost reasons and tasks (with their reminders).

A deal's activities are not a table of their own: they are the contact's timeline events that name the deal
(`contacts.Event.deal`), so one history serves the contact page and the deal page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Named(models.Model):
    """A name in both UI languages, like lifecycle stages: presets ship both, a user's own entry fills both."""

    name_en = models.CharField(_("name (English)"), max_length=100)
    name_vi = models.CharField(_("name (Vietnamese)"), max_length=100)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_vi if (get_language() or "vi").startswith("vi") else self.name_en


class Pipeline(Named):
    """One sales process (per product line or branch) with its ordered stages."""

    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # A deal moved to another stage must get its next step (a task with a due time).
    require_next_step = models.BooleanField(_("a next step is required when a deal moves"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]


class PipelineStage(Named):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    # A deal with no activity for this many days "rots": highlighted on the board and its owner told.
    rotting_days = models.PositiveSmallIntegerField(_("rotting after (days)"), null=True, blank=True)

    class Meta:
        ordering = ["pipeline_id", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="stage_probability_percent")
        ]


class LostReason(Named):
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]


class Deal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    title = models.CharField(_("title"), max_length=200)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals", verbose_name=_("pipeline"))
    stage = models.ForeignKey(PipelineStage, on_delete=models.PROTECT, related_name="deals", verbose_name=_("stage"))
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="deals")
    company = models.ForeignKey(
        "contacts.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals",
        verbose_name=_("owner"),
    )  # fmt: skip
    # Integer minor units (VND has none: 1 = 1 đồng); see core/money.py.
    amount = models.BigIntegerField(_("amount"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="VND")
    products = models.JSONField(_("product lines"), default=list, blank=True)
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    # The lead's first-touch attribution, copied when the deal is made: what the deal's revenue is credited to.
    source = models.CharField(_("source"), max_length=100, blank=True)
    medium = models.CharField(_("medium"), max_length=100, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=4, choices=Status.choices, default=Status.OPEN)
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("lost reason")
    )
    lost_note = models.TextField(_("lost note"), blank=True)
    # Bumped by every change: a board or form holding an older version is refused (409), never overwritten.
    version = models.PositiveIntegerField(default=1)
    stage_entered_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-stage_entered_at", "-id"]
        indexes = [
            # The board: the first cards of each stage.
            models.Index(fields=["stage", "status", "-stage_entered_at", "-id"], name="deal_board"),
            # The board's totals per stage of open deals, read from this small index alone (an index-only scan;
            # a full index over every status lost to a sequential scan of the table at 100,000 deals).
            models.Index(
                fields=["pipeline", "stage", "currency", "amount"],
                name="deal_open_totals",
                condition=models.Q(status="open"),
            ),  # fmt: skip
            models.Index(fields=["owner", "status"], name="deal_owner_status"),
            models.Index(fields=["-created_at", "-id"], name="deal_created"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gte=0), name="deal_amount_not_negative")]

    def __str__(self) -> str:
        return self.title

    def rotting_since(self, now: datetime) -> datetime | None:
        """When this open deal started rotting (no activity for the stage's limit), or None."""
        if self.status != self.Status.OPEN:
            return None
        return rotting_since(self.last_activity_at, self.stage.rotting_days, now)


def rotting_since(last_activity_at: datetime, rotting_days: int | None, now: datetime) -> datetime | None:
    """When an open deal with this last activity, in a stage with this limit, started rotting, or None."""
    if not rotting_days:
        return None
    since = last_activity_at + timedelta(days=rotting_days)
    return since if since <= now else None


class Task(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        MEETING = "meeting", _("Meeting")
        TODO = "todo", _("To-do")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    due_at = models.DateTimeField(_("due"))
    remind_at = models.DateTimeField(_("reminder"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_tasks", verbose_name=_("assignee")
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="sales_tasks")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")  # fmt: skip
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField()
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # A rep's agenda and overdue work: open tasks by due time.
            models.Index(fields=["assignee", "done_at", "due_at"], name="task_assignee_due"),
            models.Index(fields=["deal", "done_at", "due_at"], name="task_deal_due"),
            models.Index(fields=["contact", "done_at", "due_at"], name="task_contact_due"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, now: datetime) -> bool:
        return self.done_at is None and self.due_at < now
