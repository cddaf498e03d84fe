from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    name_folded = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(_("domain"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Band(models.TextChoices):
        HOT = "hot", _("Hot")
        WARM = "warm", _("Warm")
        COLD = "cold", _("Cold")

    class Gender(models.TextChoices):
        UNKNOWN = "", _("Unknown")
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    family_name = models.CharField(_("family name"), max_length=80, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=80, blank=True)
    given_name = models.CharField(_("given name"), max_length=80, blank=True)
    # Lower-case, no diacritics, đ -> d: what search and matching compare.
    name_folded = models.CharField(max_length=200, blank=True, db_index=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    # The primary email and phone, denormalised from Identity for lists and search.
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts", verbose_name=_("company")
    )
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    need = models.TextField(_("need"), blank=True)
    preferred_contact_time = models.CharField(_("preferred contact time"), max_length=100, blank=True)
    # Stage and owner are indexed by the composite indexes they lead (Meta): indexes of their own would be two
    # more writes per contact, and two more each time it changes hands.
    stage = models.ForeignKey(
        "lifecycle.Stage", on_delete=models.PROTECT, related_name="contacts", verbose_name=_("stage"), db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        verbose_name=_("owner"),
        db_index=False,
    )
    # Points scoring (nurture.scoring): the combined score is fit + engagement, engagement decays; the
    # stored engagement is its value at `scored_at`.
    score = models.IntegerField(_("score"), default=0)
    fit_score = models.IntegerField(_("fit score"), default=0)
    engagement_score = models.FloatField(_("engagement score"), default=0.0)
    scored_at = models.DateTimeField(null=True, blank=True)
    band = models.CharField(_("band"), max_length=4, choices=Band.choices, default=Band.COLD)
    # First-touch attribution: where this person first came from.
    source = models.CharField(_("source"), max_length=100, blank=True)
    medium = models.CharField(_("medium"), max_length=100, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    referrer = models.CharField(_("referrer"), max_length=500, blank=True)
    landing_url = models.CharField(_("landing page"), max_length=500, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    last_activity_at = models.DateTimeField(_("last activity"))
    # Set when this contact was merged into another: a tombstone that redirects to the survivor.
    # Indexed only where set (Meta): nearly every row is NULL, and a whole-column index tempted the planner to
    # scan it for "IS NULL" whenever statistics were missing or stale.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("merged into"),
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="contact_created"),
            models.Index(fields=["-last_activity_at", "-id"], name="contact_activity"),
            models.Index(fields=["stage", "-created_at"], name="contact_stage_created"),
            models.Index(fields=["owner", "-created_at"], name="contact_owner_created"),
            models.Index(
                fields=["merged_into"], name="contact_merged_into", condition=models.Q(merged_into__isnull=False)
            ),
            # Each rep's open leads: routing's workload, counted on every capture.
            models.Index(
                fields=["owner", "stage"], name="contact_live_owner_stage", condition=models.Q(merged_into__isnull=True)
            ),
            models.Index(fields=["source"], name="contact_source"),
            models.Index(fields=["campaign"], name="contact_campaign"),
            models.Index(fields=["-score", "-id"], name="contact_score"),
        ]

    def __str__(self) -> str:
        return self.label(self.full_name, self.email, self.phone, self.pk)

    @staticmethod
    def label(full_name: str, email: str, phone: str, pk: int | None) -> str:
        """How a contact is named, from its row's values (where rows are read without instances)."""
        return full_name or email or phone or f"#{pk}"

    @property
    def display_name(self) -> str:
        return str(self)


class Identity(models.Model):
    """A normalised key that identifies one person. (kind, value) is unique across all contacts."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        ZALO = "zalo", _("Zalo ID")
        FACEBOOK = "facebook", _("Facebook ID")
        EXTERNAL = "external", _("External ID")
        ANONYMOUS = "anonymous", _("Anonymous ID")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.CharField(max_length=254)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="identity_unique")]
        indexes = [models.Index(fields=["value"], name="identity_value")]
        verbose_name_plural = _("identities")

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Consent(models.Model):
    """A consent decision for one channel, with its source and time (Decree 13/2023)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        ZALO = "zalo", _("Zalo")
        CALL = "call", _("Phone call")

    # Indexed by consent_contact_channel (Meta); one of its own would be one more write per consent.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents", db_index=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["contact", "channel", "-at"], name="consent_contact_channel")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel}={'yes' if self.granted else 'no'}"


class Note(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField(_("note"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.body[:50]


class Event(models.Model):
    """The timeline: everything that happened to a contact, appended, never edited."""

    class Type(models.TextChoices):
        FORM_SUBMITTED = "form_submitted", _("Form submitted")
        API_CAPTURED = "api_captured", _("Captured by API")
        IMPORTED = "imported", _("Imported")
        MERGED = "merged", _("Merged")
        UNMERGED = "unmerged", _("Merge undone")
        CREATED = "created", _("Created")
        NOTE_ADDED = "note_added", _("Note added")
        STAGE_CHANGED = "stage_changed", _("Stage changed")
        UPDATED = "updated", _("Updated")
        PAGE_VIEWED = "page_viewed", _("Page viewed")
        EMAIL_OPENED = "email_opened", _("Email opened")
        CALL_LOGGED = "call_logged", _("Call logged")
        MESSAGE_LOGGED = "message_logged", _("Message logged")
        MEETING_LOGGED = "meeting_logged", _("Meeting logged")
        SEGMENT_ENTERED = "segment_entered", _("Entered segment")
        SEGMENT_LEFT = "segment_left", _("Left segment")
        TASK_CREATED = "task_created", _("Task created")
        MESSAGE_SENT = "message_sent", _("Message sent")
        MESSAGE_DELIVERED = "message_delivered", _("Message delivered")
        MESSAGE_FAILED = "message_failed", _("Message failed")
        MESSAGE_REPLIED = "message_replied", _("Replied to a message")
        EMAIL_CLICKED = "email_clicked", _("Email link clicked")
        EMAIL_BOUNCED = "email_bounced", _("Email bounced")
        EMAIL_COMPLAINT = "email_complaint", _("Email marked as spam")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        ZALO_MESSAGE_RECEIVED = "zalo_message_received", _("Zalo message received")
        ZALO_FOLLOWED = "zalo_followed", _("Followed the Zalo OA")
        ZALO_MESSAGE_SENT = "zalo_message_sent", _("Zalo OA replied")
        ZALO_INFO_SHARED = "zalo_info_shared", _("Shared their details on Zalo")
        LEAD_AD_SUBMITTED = "lead_ad_submitted", _("Lead ad form submitted")
        WEBHOOK_CAPTURED = "webhook_captured", _("Captured by webhook")
        ORDER_PLACED = "order_placed", _("Order placed")
        IDENTIFIED = "identified", _("Identified on the website")
        DEAL_CREATED = "deal_created", _("Deal created")
        DEAL_STAGE_CHANGED = "deal_stage_changed", _("Deal moved")
        DEAL_WON = "deal_won", _("Deal won")
        DEAL_LOST = "deal_lost", _("Deal lost")
        TASK_DONE = "task_done", _("Task done")

    # Indexed by event_contact_at (Meta); one of its own would be one more write per event.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=40)
    at = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Not indexed: nothing looks events up by who made them, and an index would be one more write per event.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    # A deal's activities are the contact's events that name the deal: one timeline, read by contact or by deal.
    deal = models.ForeignKey(
        "sales.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="events", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-at", "-id"], name="event_contact_at"),
            models.Index(fields=["deal", "-at", "-id"], name="event_deal_at", condition=models.Q(deal__isnull=False)),
            models.Index(fields=["type", "-at"], name="event_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type}@{self.at:%Y-%m-%d %H:%M}"

    @property
    def type_label(self) -> str:
        try:
            return str(self.Type(self.type).label)
        except ValueError:
            return self.type
