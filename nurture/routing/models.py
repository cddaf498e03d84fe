from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AssignmentRule(models.Model):
    """Leads matching the conditions go to one of the rule's reps, chosen by the strategy.

    Without `on_stage` the rule assigns new leads as they are captured; with it, it (re)assigns a contact when
    it enters that stage (becoming SQL hands the lead from marketing to a salesperson).
    """

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round-robin in a fixed order")
        WEIGHTED = "weighted", _("Weighted shares")
        FEWEST_OPEN = "fewest_open", _("Fewest open leads")

    name = models.CharField(_("name"), max_length=200)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)  # {} matches every lead
    on_stage = models.ForeignKey(
        "lifecycle.Stage", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("when entering stage"),
    )  # fmt: skip
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("team")
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    is_active = models.BooleanField(_("active"), default=True)
    # Round-robin: the user who got the last lead (the next one goes to whoever follows in the order). Not indexed:
    # nothing looks rules up by it, and an index would make each lead's update of it a new row version (not HOT).
    last_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", db_index=False)  # fmt: skip
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def conditions_json(self) -> str:
        return json.dumps(self.conditions, ensure_ascii=False) if self.conditions else ""


class RuleMember(models.Model):
    """A rep of a rule, in rotation order, with a weight (weighted shares) and how many leads they got."""

    rule = models.ForeignKey(AssignmentRule, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    weight = models.PositiveSmallIntegerField(default=1)
    assigned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["rule", "user"], name="rule_member_once")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.user_id}"


class Capacity(models.Model):
    """How much a rep can take: new leads per day and open leads at once (blank: no limit)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="capacity")
    max_per_day = models.PositiveIntegerField(_("new leads per day"), null=True, blank=True)
    max_open = models.PositiveIntegerField(_("open leads"), null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.max_per_day}/{self.max_open}"


class SlaPolicy(models.Model):
    """The first response due within N minutes of the assignment; a reminder, escalation and reclaim."""

    name = models.CharField(_("name"), max_length=200)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    remind_before_minutes = models.PositiveIntegerField(_("remind before the deadline (minutes)"), default=0)
    escalate = models.BooleanField(_("escalate to the team lead at the breach"), default=True)
    reclaim_after_minutes = models.PositiveIntegerField(
        _("reclaim and reassign after (minutes, blank: never)"), null=True, blank=True
    )
    business_hours = models.BooleanField(_("count business hours only"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """Who got a contact, when and why; the current one is the newest. Its SLA clock lives here."""

    class Cause(models.TextChoices):
        CAPTURE = "capture", _("New lead")
        STAGE = "stage", _("Stage reached")
        MANUAL = "manual", _("By hand")
        RECLAIM = "reclaim", _("Reclaimed: no response")

    # Contact and user are indexed by the composite indexes they lead (Meta): indexes of their own would be two
    # more writes per assignment.
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="assignments",
                                db_index=False)  # fmt: skip
    # Null: the lead waits in the fallback queue.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="assignments", db_index=False)  # fmt: skip
    # The keys below are not indexed: nothing looks assignments up by them, and their indexes would be five more
    # writes per lead. Deleting a rule, policy or user (rare) scans the table to clear them instead.
    previous_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", db_index=False)  # fmt: skip
    rule = models.ForeignKey(AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             db_index=False)  # fmt: skip
    cause = models.CharField(max_length=10, choices=Cause.choices)
    # Why: the rule's name and strategy, who was skipped and why, or the warning that sent it to the queue.
    reason = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False)  # fmt: skip
    at = models.DateTimeField()
    is_current = models.BooleanField(default=True)
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_index=False)  # fmt: skip
    due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", db_index=False)  # fmt: skip

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-at"], name="assignment_contact_at"),
            models.Index(fields=["user", "is_current", "first_response_at"], name="assignment_user_open"),
            models.Index(fields=["user", "at"], name="assignment_user_at"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} → {self.user_id} ({self.cause})"

    @property
    def in_queue(self) -> bool:
        return self.user_id is None
