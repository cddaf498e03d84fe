"""Segments: dynamic segments (a condition on contacts) and static lists (contacts added by hand)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic segment")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=7, choices=Kind.choices, default=Kind.DYNAMIC)
    # Dynamic segments: one condition on the contact (nurture.contacts.conditions); static lists: empty.
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Members as of the last change (static) or refresh (dynamic); a dynamic segment's live count is computed.
    member_count = models.IntegerField(_("members"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == self.Kind.DYNAMIC


class SegmentMember(models.Model):
    """A static list's member, or a dynamic segment's member as of its last refresh (to see who entered/left)."""

    # The unique constraint's index (segment, contact) serves lookups by segment, the named index those by
    # contact, so neither foreign key needs its own.
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="segment_memberships", db_index=False)
    added_at = models.DateTimeField()

    # A merge leaves memberships with the tombstone (identity.actions): moving them could collide with the
    # survivor's own row. Dynamic segments pick the survivor up at the next refresh; lists count live contacts.
    stays_on_merge = True

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="segmentmember_unique")]
        indexes = [models.Index(fields=["contact"], name="segmentmember_contact")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.contact_id}"
