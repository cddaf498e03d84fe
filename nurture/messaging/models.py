"""Messaging: templates, every outbound message with its outcome, suppressed addresses and channel policies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from nurture.contacts.models import Contact


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    ZALO = "zalo", _("Zalo")


class Template(models.Model):
    """What a message says, with Jinja variables ({{ greeting }}, {{ owner.name }} ...: see docs/messaging.md).

    Email: subject and body (plain text; the HTML part is made from it). SMS: body. Zalo: body is the free-form
    OA text; a ZNS template approved by Zalo is named by its id with the values of its parameters; sms_body is
    the text sent when a journey falls back to SMS.
    """

    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="vi")
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    sms_body = models.TextField(_("SMS text"), blank=True)
    zns_template_id = models.CharField(_("ZNS template id"), max_length=50, blank=True)
    # ZNS parameter name -> its value as a template ("{{ full_name }}"), sent as template_data.
    zns_params = models.JSONField(_("ZNS parameters"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        ordering = ["channel", "name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "channel", "language"], name="messaging_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()}, {self.language})"


class Message(models.Model):
    """One outbound message to one contact: written by `actions.send`, delivered by the `messaging.send` job."""

    Channel = Channel

    class Route(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        ZALO_OA = "zalo_oa", _("Zalo OA message")
        ZALO_ZNS = "zalo_zns", _("Zalo ZNS")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        REFUSED = "refused", _("Refused")
        SKIPPED = "skipped", _("Skipped")

    class Reason(models.TextChoices):
        NO_ADDRESS = "no_address", _("No address for the channel")
        NO_CONSENT = "no_consent", _("No consent for the channel")
        SUPPRESSED = "suppressed", _("Address suppressed")
        FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
        NO_ZALO_ROUTE = "no_zalo_route", _("No Zalo interaction in 7 days and no ZNS template")
        TEMPLATE_ERROR = "template_error", _("Template error")
        PROVIDER_ERROR = "provider_error", _("Provider error")
        REJECTED = "rejected", _("Rejected by the provider")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages")
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    # The channel it went out on: a Zalo message that fell back to SMS is an SMS (its consent, cap, quiet hours).
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    route = models.CharField(_("route"), max_length=10, choices=Route.choices, blank=True)
    address = models.CharField(_("address"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    zns_template_id = models.CharField(max_length=50, blank=True)
    zns_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The caller's key: sending twice with one key returns the first message. Also the provider's request id.
    idempotency_key = models.CharField(max_length=200, unique=True)
    origin = models.CharField(_("origin"), max_length=200, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=200, blank=True)
    retries = models.PositiveSmallIntegerField(default=0)  # manual retries of a failed message
    created_at = models.DateTimeField(_("created"))
    due_at = models.DateTimeField(_("due"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The frequency cap counts a contact's recent messages per channel; the timeline lists them.
            models.Index(fields=["contact", "channel", "-created_at"], name="message_contact_channel"),
            models.Index(fields=["status", "channel", "-created_at"], name="message_status_channel"),
            models.Index(fields=["provider_id"], name="message_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address or self.contact_id} ({self.status})"


class Suppression(models.Model):
    """An address nothing more is sent to on a channel: it bounced, complained, unsubscribed, or was added by hand."""

    class Reason(models.TextChoices):
        BOUNCE = "bounce", _("Bounced")
        COMPLAINT = "complaint", _("Complaint")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
        MANUAL = "manual", _("Added by hand")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # An email (lower case), a phone in E.164, or a Zalo user id.
    address = models.CharField(_("address"), max_length=254)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="suppression_unique")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"


class ChannelPolicy(models.Model):
    """The frequency cap and quiet hours of one channel; without a row, the settings' defaults apply."""

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, unique=True)
    max_messages = models.PositiveIntegerField(_("messages at most"), help_text=_("0: no cap"))
    per_days = models.PositiveIntegerField(_("per days"), default=7)
    # Vietnam time; None: the channel may send at any hour. from > to spans midnight (21:00 to 08:00).
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_to = models.TimeField(_("quiet until"), null=True, blank=True)

    class Meta:
        ordering = ["channel"]

    def __str__(self) -> str:
        return self.channel
