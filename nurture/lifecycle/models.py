from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class StageSet(models.Model):
    class Backward(models.TextChoices):
        ANY = "any", _("Any backward move")
        LISTED = "listed", _("Only the listed backward moves")
        NONE = "none", _("No backward moves")

    key = models.SlugField(unique=True)
    name_en = models.CharField(max_length=100)
    name_vi = models.CharField(max_length=100)
    is_active = models.BooleanField(default=False)
    backward = models.CharField(max_length=10, choices=Backward.choices, default=Backward.ANY)

    def __str__(self) -> str:
        return self.name_vi if (get_language() or "vi").startswith("vi") else self.name_en


class Stage(models.Model):
    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won (a customer)")
        LOST = "lost", _("Lost")

    stage_set = models.ForeignKey(StageSet, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField()
    name_en = models.CharField(max_length=100)
    name_vi = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OPEN)
    # Checklist items (qualification.ITEMS keys) that must be confirmed before a contact may enter.
    requires = models.JSONField(default=list, blank=True)
    # Earlier stages a contact in this stage may be moved back to, when the set allows only listed moves.
    returns_to = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")

    class Meta:
        ordering = ["stage_set_id", "position"]
        constraints = [models.UniqueConstraint(fields=["stage_set", "key"], name="stage_key_per_set")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_vi if (get_language() or "vi").startswith("vi") else self.name_en


class StageChange(models.Model):
    """One row per stage move, with what caused it: the stage history of a contact."""

    class Cause(models.TextChoices):
        CAPTURE = "capture", _("Captured")
        IMPORT = "import", _("Import")
        USER = "user", _("User")
        API = "api", _("API")
        RULE = "rule", _("Rule")
        SWITCH = "switch", _("Stage set switched")
        JOURNEY = "journey", _("Journey")

    # Indexed by stagechange_contact_at (Meta); one of its own would be one more write per change.
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="stage_changes",
                                db_index=False)  # fmt: skip
    # From-stage, rule and actor are not indexed: nothing looks changes up by them, and their indexes would be three
    # more writes per lead. Deleting a stage, rule or user (rare) scans the table for them instead.
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")  # the funnel reports' entries
    cause = models.CharField(max_length=20, choices=Cause.choices)
    reason = models.TextField(blank=True)
    rule = models.ForeignKey(
        "TransitionRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["contact", "at"], name="stagechange_contact_at")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_stage_id} -> {self.to_stage_id} ({self.cause})"


class TransitionRule(models.Model):
    """When a contact matches the conditions, move it to `to_stage`.

    Without `from_stages` a rule only moves contacts forward (from an earlier stage); listing stages lets it
    move contacts back, e.g. a lost lead who fills a form again returns to Lead.
    """

    stage_set = models.ForeignKey(StageSet, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(_("name"), max_length=200)
    conditions = models.JSONField(_("conditions"))
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+", verbose_name=_("move to"))
    from_stages = models.ManyToManyField(Stage, blank=True, related_name="+", verbose_name=_("only from"))
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def conditions_json(self) -> str:
        return json.dumps(self.conditions, ensure_ascii=False)


class ChecklistItem(models.Model):
    """One confirmed (or refuted) qualification item of a contact: BANT / CHAMP."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="checklist")
    item = models.CharField(max_length=20)
    value = models.TextField(blank=True)
    confirmed = models.BooleanField(default=False)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    stays_on_merge = True  # unique per contact; the survivor keeps its own checklist

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "item"], name="checklist_item_per_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id}:{self.item}"
