"""Points scoring: rules, the ledger of every point change, settings and re-scoring runs."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact, Event
from nurture.core.models import BackgroundRun


class ScoringSettings(models.Model):
    """The one row of scoring settings: engagement decay and the band thresholds."""

    # Engagement points lose half their value every `half_life_days`; 0 turns decay off.
    half_life_days = models.FloatField(_("half-life (days)"), default=30.0)
    hot = models.IntegerField(_("hot from"), default=50)
    warm = models.IntegerField(_("warm from"), default=20)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"half-life {self.half_life_days} d, hot {self.hot}, warm {self.warm}"


class PointsRule(models.Model):
    class Kind(models.TextChoices):
        BEHAVIOUR = "behaviour", _("Behaviour (engagement)")
        ATTRIBUTE = "attribute", _("Attribute (fit)")

    class Period(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        EVER = "ever", _("in total")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Behaviour rules: the event type and conditions on its properties (contacts.conditions, event form).
    event_type = models.CharField(_("event type"), max_length=40, blank=True)
    # Attribute rules: a condition on the contact; behaviour rules: a list of event conditions.
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    points = models.IntegerField(_("points"))
    cap = models.PositiveIntegerField(_("at most (times)"), null=True, blank=True)
    cap_period = models.CharField(_("period"), max_length=5, choices=Period.choices, default=Period.WEEK)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def dimension(self) -> str:
        return ScoreEntry.Dimension.ENGAGEMENT if self.kind == self.Kind.BEHAVIOUR else ScoreEntry.Dimension.FIT


class ScoreEntry(models.Model):
    """One point change: the ledger behind every score. Rows are never deleted; re-scoring voids them."""

    class Dimension(models.TextChoices):
        FIT = "fit", _("Fit")
        ENGAGEMENT = "engagement", _("Engagement")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="score_entries")
    rule = models.ForeignKey(PointsRule, null=True, on_delete=models.SET_NULL, related_name="entries")
    rule_name = models.CharField(max_length=120)  # as the rule was named then: the ledger outlives edits
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dimension = models.CharField(max_length=10, choices=Dimension.choices)
    points = models.IntegerField()
    at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-at"], name="scoreentry_contact_at"),
            models.Index(fields=["rule", "contact"], name="scoreentry_rule_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.points:+d}"


class RescoreRun(BackgroundRun):
    """A background re-scoring of every contact after a rule or setting changed (the UI polls it)."""

    reason = models.CharField(max_length=200, blank=True)
    entries = models.PositiveIntegerField(default=0)

    class Meta(BackgroundRun.Meta):
        pass

    def __str__(self) -> str:
        return f"rescore #{self.pk} {self.status}"
