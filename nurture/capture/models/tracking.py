from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackedSite(models.Model):
    """A website allowed to send page views: its origin is the only one the tracking endpoint accepts."""

    origin = models.CharField(_("origin"), max_length=200, unique=True, help_text=_("e.g. https://www.example.vn"))
    require_consent = models.BooleanField(
        _("ask for consent first"),
        default=False,
        help_text=_("Nothing is recorded until the page calls nurture.consent(true)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.origin


class StagedEvent(models.Model):
    """A tracking event accepted by the public endpoint and not yet on a timeline.

    The endpoint only validates and inserts these (one statement per batch); the worker turns them into
    timeline events and anonymous contacts in batches and deletes them in the same transaction, so an
    accepted event is never lost and never recorded twice.
    """

    class Kind(models.TextChoices):
        PAGE = "page", _("Page view")
        IDENTIFY = "identify", _("Identify")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    anonymous_id = models.CharField(max_length=64)
    origin = models.CharField(max_length=200)
    at = models.DateTimeField()
    received_at = models.DateTimeField()
    # page: {url, title, referrer, utm: {source, medium, campaign, term, content}}; identify: {traits}.
    payload = models.JSONField(default=dict)
    # Failed processing attempts; a row failing repeatedly is set aside (and shown) instead of wedging the worker.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["attempts", "id"], name="staged_event_due")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.anonymous_id}"
