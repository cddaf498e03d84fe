"""Channel connections (Facebook pages, Zalo OAs, Google Ads forms, signed webhooks, call centres) and every
event they deliver, kept until it became a lead: the idempotency record and the dead-letter list in one table."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_key() -> str:
    return secrets.token_urlsafe(18)


class Connection(models.Model):
    """One channel account. Its webhook is served at /hooks/capture/<key>; the key is unguessable, the
    signature (per channel) is the credential."""

    class Channel(models.TextChoices):
        FACEBOOK = "facebook", _("Facebook Lead Ads")
        ZALO = "zalo", _("Zalo Official Account")
        GOOGLE = "google", _("Google Ads lead form")
        WEBHOOK = "webhook", _("Signed webhook (chatbots, landing pages)")
        CALLS = "calls", _("Call centre")

    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=100)
    key = models.CharField(max_length=40, unique=True, default=new_key)
    is_active = models.BooleanField(_("active"), default=True)
    # The provider's account: a Facebook page id, a Zalo OA id.
    account_id = models.CharField(_("page / OA id"), max_length=100, blank=True)
    # The provider's app: Zalo app id; Facebook's app secret signs its webhooks, Zalo's refreshes tokens.
    app_id = models.CharField(_("app id"), max_length=100, blank=True)
    app_secret = models.CharField(_("app secret"), max_length=200, blank=True)
    # What signs the webhook: Zalo's OA secret key, Google's google_key, the HMAC secret of a generic webhook.
    signing_secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    verify_token = models.CharField(_("verify token"), max_length=200, blank=True)
    # The shared token store: messaging sends Zalo OA and ZNS messages with this OA's token.
    access_token = models.TextField(_("access token"), blank=True)
    refresh_token = models.TextField(_("refresh token"), blank=True)
    token_expires_at = models.DateTimeField(_("token expires"), null=True, blank=True)
    # Provider field -> contact field ("custom:<name>" keeps it as a custom field, "" ignores it).
    mapping = models.JSONField(default=dict, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    campaign = models.CharField(_("default campaign"), max_length=200, blank=True)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["channel", "name"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.name}"


class InboundEvent(models.Model):
    """One provider event (a Facebook leadgen, a Zalo message, a call ...), unique per connection by the
    provider's own id so a replayed webhook is accepted once. A dead one waits for an admin to fix it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        WAITING = "waiting", _("Waiting for the person to share a phone")
        DONE = "done", _("Done")
        DEAD = "dead", _("Could not be mapped")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=60, blank=True)
    # Who sent it, as the provider knows them (a Zalo user id): later events of a waiting sender join them.
    sender = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_events"
    )
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "key"], name="inbound_event_unique")]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status_received"),
            models.Index(fields=["connection", "sender", "status"], name="inbound_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.key} ({self.status})"
