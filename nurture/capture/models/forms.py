from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Contact fields a form can ask for, with the input type used on the hosted page.
STANDARD_FIELDS: dict[str, tuple[str, Any]] = {
    "full_name": ("text", _("Full name")),
    "phone": ("tel", _("Phone")),
    "email": ("email", _("Email")),
    "company": ("text", _("Company")),
    "job_title": ("text", _("Job title")),
    "industry": ("text", _("Industry")),
    "province": ("text", _("Province / city")),
    "address": ("text", _("Address")),
    "need": ("textarea", _("What do you need?")),
    "preferred_contact_time": ("text", _("Preferred contact time")),
    "gender": ("gender", _("Gender")),
    "birth_date": ("date", _("Birth date")),
}
CUSTOM_FIELD_TYPES = ("text", "number", "date", "select", "textarea")


class LeadForm(models.Model):
    """A lead form built in the UI, served at /f/<slug> and embeddable on any site.

    `fields` is a list of {"key", "label", "type", "required", "options", "custom"}: standard
    fields map to contact fields; custom ones land in the contact's custom_fields.
    """

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("address"), unique=True)
    title = models.CharField(_("title shown on the page"), max_length=200, blank=True)
    intro = models.TextField(_("introduction"), blank=True)
    fields = models.JSONField(default=list)
    consent_texts = models.JSONField(default=dict, blank=True)
    submit_label = models.CharField(_("button label"), max_length=60, blank=True)
    thank_you_message = models.TextField(_("thank-you message"), blank=True)
    redirect_url = models.URLField(_("redirect after submit"), blank=True)
    source = models.CharField(_("source"), max_length=100, default="website")
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
