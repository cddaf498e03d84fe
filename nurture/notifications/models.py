"""Notifications: a notice for one user (in the app, by email) and the webhook channels that relay them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact


class Notification(models.Model):
    """One notice for one user: shown under the bell, and sent by email and to matching webhook channels."""

    class Kind(models.TextChoices):
        NEW_LEAD = "new_lead", _("New lead")
        SLA_REMINDER = "sla_reminder", _("SLA reminder")
        SLA_BREACH = "sla_breach", _("SLA breached")
        REASSIGNED = "reassigned", _("Reassigned")
        INFO = "info", _("Information")
        TASK = "task", _("Task")  # a call task from a journey (no tasks app yet)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    # A merge moves the notice to the survivor (identity.actions), so its link keeps working.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    # A path inside the app (/contacts/12/) or an absolute URL; made absolute with SITE_URL when sent out.
    url = models.CharField(_("link"), max_length=500, blank=True)
    # The caller's idempotency key: notifying twice with one key gives the first notice and sends nothing.
    # Unique (Meta); null for a notice without a key, as a unique constraint lets NULLs repeat but not "".
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(_("created"))
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The bell's unread count and the list, per user (and the user foreign key's lookups).
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_unread"),
            models.Index(fields=["contact"], name="notification_contact"),
        ]
        # A constraint rather than unique=True, which on PostgreSQL adds a LIKE index no query uses.
        constraints = [models.UniqueConstraint(fields=["key"], name="notifications_notification_key_key")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class WebhookChannel(models.Model):
    """An HTTP endpoint notices are POSTed to, signed: a Zalo bot relay, Slack or Google Chat, any chat tool."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    # Shared with the receiver, which checks X-Nurture-Signature with it; kept readable for that reason.
    secret = models.CharField(_("secret"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    # The notification kinds it receives; empty means all of them.
    kinds = models.JSONField(_("kinds"), default=list, blank=True)
    # Only this user's notices, or (empty) every user's.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_channels",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("created"))
    # The outcome of the last delivery attempt (None: no HTTP answer at all, see last_error).
    last_status = models.IntegerField(_("last status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def receives(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds
