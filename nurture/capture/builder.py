"""The form builder's forms, and the Django form a LeadForm renders on its hosted page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from nurture.capture.models.forms import CUSTOM_FIELD_TYPES, STANDARD_FIELDS, LeadForm
from nurture.capture.tracking import ANONYMOUS_ID
from nurture.contacts.leads import CONSENT_CHANNELS
from nurture.contacts.models import Consent
from nurture.core.normalise import fold

CHANNEL_LABELS = dict(Consent.Channel.choices)
HONEYPOT = "website"
TIMESTAMP = "_ts"
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class LeadFormSettings(forms.ModelForm):
    redirect_url = forms.URLField(label=_("redirect after submit"), required=False, assume_scheme="https")
    tags_text = forms.CharField(label=_("Tags added to every lead (comma separated)"), required=False)

    class Meta:
        model = LeadForm
        fields = [
            "name", "slug", "title", "intro", "submit_label", "thank_you_message", "redirect_url", "source",
            "is_active",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance: LeadForm = self.instance
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _("The page is served at /f/<address>. Left empty, it comes from the name.")
        self.fields["tags_text"].initial = ", ".join(instance.tags or [])
        by_key = {f["key"]: f for f in instance.fields or []}
        for key, (_type, label) in STANDARD_FIELDS.items():
            current = by_key.get(key)
            self.fields[f"std_{key}_on"] = forms.BooleanField(
                label=label, required=False, initial=bool(current) if instance.pk else key in ("full_name", "phone")
            )
            self.fields[f"std_{key}_req"] = forms.BooleanField(
                required=False, initial=current["required"] if current else key == "phone"
            )
            self.fields[f"std_{key}_label"] = forms.CharField(
                required=False, max_length=100, initial=current["label"] if current else ""
            )
        for channel in CONSENT_CHANNELS:
            self.fields[f"consent_{channel}"] = forms.CharField(
                label=CHANNEL_LABELS[channel],
                required=False,
                max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=(instance.consent_texts or {}).get(channel, ""),
            )

    def standard_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"std_{k}_on"], self[f"std_{k}_req"], self[f"std_{k}_label"]) for k in STANDARD_FIELDS]

    def consent_rows(self) -> list[Any]:
        return [self[f"consent_{c}"] for c in CONSENT_CHANNELS]

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(fold(self.cleaned_data.get("name", "")))
        if not slug:
            raise forms.ValidationError(_("Give the form a name or an address."))
        clash = LeadForm.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another form already uses this address."))
        return slug

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        contact_points = ("phone", "email")
        if not any(data.get(f"std_{k}_on") for k in contact_points):
            raise forms.ValidationError(_("A form must ask for a phone or an email."))
        return data

    def standard_fields(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {
                "key": key,
                "label": data[f"std_{key}_label"],
                "type": field_type,
                "required": data[f"std_{key}_req"],
                "custom": False,
            }
            for key, (field_type, _label) in STANDARD_FIELDS.items()
            if data[f"std_{key}_on"]
        ]

    def consent_texts(self) -> dict[str, str]:
        return {c: self.cleaned_data[f"consent_{c}"] for c in CONSENT_CHANNELS if self.cleaned_data[f"consent_{c}"]}

    def tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags_text"].split(",") if t.strip()]


class CustomFieldForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    key = forms.CharField(
        label=_("Key"),
        max_length=40,
        required=False,
        validators=[RegexValidator(r"^[a-z0-9_]+$", _("lower-case letters, digits and _ only"))],
    )
    type = forms.ChoiceField(label=_("Type"), choices=[(t, t) for t in CUSTOM_FIELD_TYPES])
    required = forms.BooleanField(label=_("Required"), required=False)
    options = forms.CharField(label=_("Options (for select, comma separated)"), required=False, max_length=1000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("label") and not data.get("key"):
            data["key"] = slugify(fold(data["label"])).replace("-", "_")[:40]
        if data.get("type") == "select" and data.get("label") and not data.get("options"):
            self.add_error("options", _("A select needs options."))
        return data


CustomFieldFormSet = forms.formset_factory(CustomFieldForm, extra=2, max_num=30)


def custom_fields_initial(lead_form: LeadForm) -> list[dict[str, Any]]:
    return [{**f, "options": ", ".join(f.get("options", []))} for f in lead_form.fields or [] if f.get("custom")]


def custom_fields_from(formset: Any) -> list[dict[str, Any]]:
    fields = []
    for data in formset.cleaned_data:
        if data and data.get("label"):
            options = [o.strip() for o in data.get("options", "").split(",") if o.strip()]
            fields.append(
                {
                    "key": data["key"],
                    "label": data["label"],
                    "type": data["type"],
                    "required": data["required"],
                    "options": options,
                    "custom": True,
                }
            )
    return fields


class PublicLeadForm(forms.Form):
    """The form a visitor fills on /f/<slug>, built from the LeadForm's field list."""

    def __init__(self, lead_form: LeadForm, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lead_form = lead_form
        for spec in lead_form.fields:
            name = spec["key"] if not spec.get("custom") else f"custom_{spec['key']}"
            label = spec.get("label") or STANDARD_FIELDS.get(spec["key"], ("", spec["key"]))[1]
            self.fields[name] = _public_field(spec, label)
        for channel, text in (lead_form.consent_texts or {}).items():
            self.fields[f"consent_{channel}"] = forms.BooleanField(label=text, required=False)
        self.fields[HONEYPOT] = forms.CharField(required=False, label=_("Leave this empty"))
        self.fields[TIMESTAMP] = forms.CharField(required=False, widget=forms.HiddenInput)
        for name in (*UTM_FIELDS, "referrer", "landing_url", "anonymous_id"):
            self.fields[name] = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def visible_fields_for_page(self) -> list[Any]:
        return [f for f in self.visible_fields() if f.name != HONEYPOT]

    def lead_data(self) -> dict[str, Any]:
        """The submission as the raw lead dict that parse_lead validates."""
        data = self.cleaned_data
        lead: dict[str, Any] = {"custom_fields": {}, "consents": {}}
        for spec in self.lead_form.fields:
            if spec.get("custom"):
                value = data.get(f"custom_{spec['key']}")
                if isinstance(value, date | Decimal):
                    value = value.isoformat() if isinstance(value, date) else str(value)
                lead["custom_fields"][spec["key"]] = value
            else:
                lead[spec["key"]] = data.get(spec["key"])
        for channel in self.lead_form.consent_texts or {}:
            lead["consents"][channel] = bool(data.get(f"consent_{channel}"))
        lead["source"] = data.get("utm_source") or self.lead_form.source
        lead["medium"] = data.get("utm_medium", "")
        lead["campaign"] = data.get("utm_campaign", "")
        lead["term"] = data.get("utm_term", "")
        lead["content"] = data.get("utm_content", "")
        lead["referrer"] = data.get("referrer", "")
        lead["landing_url"] = data.get("landing_url", "")
        # The website visitor's id (from the tracking snippet): a malformed one is dropped, not an error to show.
        visitor = data.get("anonymous_id", "")
        lead["anonymous_id"] = visitor if ANONYMOUS_ID.fullmatch(visitor) else ""
        lead["tags"] = list(self.lead_form.tags or [])
        return lead


def _public_field(spec: dict[str, Any], label: str) -> forms.Field:
    required = bool(spec.get("required"))
    kind = spec.get("type", "text")
    if kind == "textarea":
        return forms.CharField(
            label=label, required=required, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
        )
    if kind == "date":
        return forms.DateField(
            label=label, required=required, widget=forms.DateInput(attrs={"type": "date"}),
            input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        )  # fmt: skip
    if kind == "number":
        return forms.DecimalField(label=label, required=required)
    if kind == "select":
        choices = [("", "—")] + [(o, o) for o in spec.get("options", [])]
        return forms.ChoiceField(label=label, required=required, choices=choices)
    if kind == "gender":
        choices = [("", "—"), ("male", _("Male")), ("female", _("Female"))]
        return forms.ChoiceField(label=label, required=required, choices=choices)
    attrs = {"type": kind, "autocomplete": {"tel": "tel", "email": "email"}.get(kind, "on")}
    return forms.CharField(label=label, required=required, max_length=500, widget=forms.TextInput(attrs=attrs))
