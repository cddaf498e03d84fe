from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class StageSet(models.Model):
    key = models.SlugField(unique=True)
    name_en = models.CharField(max_length=100)
    name_vi = models.CharField(max_length=100)
    is_active = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name_vi if (get_language() or "vi").startswith("vi") else self.name_en


class Stage(models.Model):
    stage_set = models.ForeignKey(StageSet, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField()
    name_en = models.CharField(max_length=100)
    name_vi = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField()

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

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    cause = models.CharField(max_length=20, choices=Cause.choices)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["contact", "at"], name="stagechange_contact_at")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_stage_id} -> {self.to_stage_id} ({self.cause})"
