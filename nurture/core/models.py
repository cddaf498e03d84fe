from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.core import clock


class Job(models.Model):
    """A durable unit of background work. The row is the truth: a killed worker loses nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    # Rows outlive deploys: handlers read the version to understand old payloads.
    payload_version = models.PositiveSmallIntegerField(default=1)
    # Unique (Meta); null for a job without a key, as a unique constraint lets NULLs repeat but not "".
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    last_error = models.TextField(blank=True)
    locked_by = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"], name="job_status_due")]
        # A constraint rather than unique=True, which on PostgreSQL adds a LIKE index no query uses.
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="core_job_idempotency_key_key")]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} ({self.status})"


class BackgroundRun(models.Model):
    """A long operation over the whole database (a clean-up, a re-scoring) whose progress the UI polls."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.IntegerField(default=0)
    processed = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else (100 if self.status == "done" else 0)

    def mark_failed(self, error: Exception) -> None:
        type(self).objects.filter(pk=self.pk).update(  # type: ignore[attr-defined]
            status=self.Status.FAILED, error=str(error), finished_at=clock.now()
        )


class Revision(models.Model):
    """The version of a body of configuration that processes hold in memory (core.revisions): a new token on
    every change, never an old one again, so a rolled-back change cannot pass for a later one."""

    name = models.CharField(max_length=40, primary_key=True)
    token = models.UUIDField()

    def __str__(self) -> str:
        return f"{self.name}: {self.token}"
