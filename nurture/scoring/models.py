"""Points scoring (rules, the ledger, settings, re-scoring runs) and predictive scoring (models, predictions)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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

    # Contact and rule are indexed by the composite indexes they lead (Meta): indexes of their own would be two
    # more writes per entry.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="score_entries", db_index=False)
    rule = models.ForeignKey(PointsRule, null=True, on_delete=models.SET_NULL, related_name="entries", db_index=False)
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


# --- predictive scoring (nurture.scoring.prediction) -----------------------------------------------


class ModelVersion(models.Model):
    """One trained conversion model: its cross-validated figures, what it was trained on, its file.

    At most one version is active (a partial unique constraint, so two trainings finishing together cannot
    both win); predictions are made with the active one.
    """

    trained_at = models.DateTimeField(_("trained"))
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    examples = models.PositiveIntegerField(_("past leads"), default=0)
    positives = models.PositiveIntegerField(_("conversions"), default=0)
    # Out-of-fold ROC AUC, Brier score and top-decile lift from 5-fold cross-validation.
    metrics = models.JSONField(default=dict, blank=True)
    # training.FeatureSpec as JSON: the columns (name, kind), event types and custom fields the model reads.
    features = models.JSONField(default=dict, blank=True)
    # The file name in settings.NURTURE_MODELS_DIR, so the directory can be moved with its models.
    artefact = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model")
        ]

    def __str__(self) -> str:
        return f"model #{self.pk}"


class Prediction(models.Model):
    """The active model's chance that an open contact converts, and the factors behind it."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="prediction")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    probability = models.FloatField()
    # [{"column", "value", "delta"}]: delta in percentage points of probability (predict.explain).
    factors = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()

    # Computed from the contact's own history: after a merge the survivor's is recomputed, not moved.
    stays_on_merge = True

    class Meta:
        indexes = [models.Index(fields=["-probability"], name="prediction_probability")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.probability:.0%}"


class TrainingRun(BackgroundRun):
    """A training started from the models page, the API or the daily job (the page polls it)."""

    reason = models.CharField(max_length=200, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )

    class Meta(BackgroundRun.Meta):
        pass

    def __str__(self) -> str:
        return f"training #{self.pk} {self.status}"
