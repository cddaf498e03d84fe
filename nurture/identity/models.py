"""Identity resolution: blocking keys, possible duplicates, merges that can be undone, batch runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact
from nurture.core.models import BackgroundRun


class MatchKey(models.Model):
    """A blocking key of a contact: contacts sharing a key are candidates for the same person."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=160)

    class Meta:
        indexes = [models.Index(fields=["key", "contact"], name="matchkey_key")]

    def __str__(self) -> str:
        return self.key


class MatchSettings(models.Model):
    """The one row of matching settings: thresholds and per-field weights, edited in the UI."""

    auto_merge = models.FloatField(_("auto-merge threshold"), default=90.0)
    review = models.FloatField(_("review threshold"), default=60.0)
    prior = models.FloatField(_("prior"), default=7.0)
    weights = models.JSONField(_("field weights"), default=dict, blank=True)
    learned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"auto-merge {self.auto_merge}, review {self.review}"


class DuplicatePair(models.Model):
    """Two contacts that may be one person, waiting for a decision. contact_a has the lower id."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        NOT_SAME = "not_same", _("Not the same person")

    class FoundBy(models.TextChoices):
        CAPTURE = "capture", _("Capture")
        BATCH = "batch", _("Batch clean-up")
        MANUAL = "manual", _("Manual entry")

    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"))
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    found_by = models.CharField(max_length=10, choices=FoundBy.choices)
    created_at = models.DateTimeField()
    # Skipped pairs stay open and go to the end of the queue.
    skipped_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_a", "contact_b"], name="duplicatepair_unique"),
            models.CheckConstraint(condition=models.Q(contact_a__lt=models.F("contact_b")), name="duplicatepair_order"),
        ]
        indexes = [models.Index(fields=["status", "skipped_at", "-score"], name="duplicatepair_queue")]

    def __str__(self) -> str:
        return f"{self.contact_a_id}~{self.contact_b_id} ({self.score})"


class Merge(models.Model):
    """One merge, with what it needs to be undone: the fields it changed and the rows it moved."""

    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(null=True, blank=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {field: [survivor's value before, value after]} for the survivor's fields the merge changed.
    changed = models.JSONField(default=dict)
    # {"app_label.model": [ids]} of the rows moved from the merged contact to the survivor.
    moved = models.JSONField(default=dict)
    tags_added = models.JSONField(default=list)
    # The merged contact's identity values: later events carrying one go back on unmerge.
    identities = models.JSONField(default=list)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"


class DedupeRun(BackgroundRun):
    """A batch de-duplication of the whole database, run by the worker or `nurture dedupe`."""

    dry_run = models.BooleanField(_("dry run"), default=True)
    auto_merge_above = models.FloatField(_("auto-merge above"), null=True, blank=True)
    pairs = models.IntegerField(default=0)
    merged = models.IntegerField(default=0)
    proposed = models.IntegerField(default=0)
    report = models.CharField(max_length=500, blank=True)

    class Meta(BackgroundRun.Meta):
        pass

    def __str__(self) -> str:
        return f"dedupe #{self.pk} ({self.status})"
