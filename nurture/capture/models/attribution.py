from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    FACEBOOK = "facebook", _("Facebook")
    ZALO = "zalo", _("Zalo")
    GOOGLE_ADS = "google_ads", _("Google Ads")
    TIKTOK = "tiktok", _("TikTok")
    SEARCH = "search", _("Organic search")
    SOCIAL = "social", _("Organic social")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    REFERRAL = "referral", _("Referral")
    HOTLINE = "hotline", _("Hotline / offline")
    DIRECT = "direct", _("Direct")
    OTHER = "other", _("Other")


class Campaign(models.Model):
    """A marketing campaign: the UTM values (or ad platform id) its touchpoints carry, and what it cost."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    utm_source = models.CharField(_("utm_source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("utm_medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("utm_campaign"), max_length=200, blank=True)
    # The ad platform's campaign id (Facebook, Google Ads), for touchpoints that carry it instead of UTM tags.
    external_id = models.CharField(_("ad platform campaign id"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utm_campaign"], condition=~models.Q(utm_campaign=""), name="campaign_utm_unique"
            ),
            models.UniqueConstraint(
                fields=["external_id"], condition=~models.Q(external_id=""), name="campaign_external_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CostEntry(models.Model):
    """Money spent on a campaign over a period (a day, a week, an invoice month), in VND.

    One entry per campaign and period: typing or importing the same period again replaces its amount,
    so re-importing a spreadsheet never counts a cost twice.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs")
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    amount = models.BigIntegerField(_("amount (VND)"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    source = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "start", "end"], name="cost_entry_period"),
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="cost_entry_ordered"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="cost_entry_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.amount} ({self.start}–{self.end})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1
