"""Actions on lead forms: saving one from the builder, and capturing a submission."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from nurture.accounts.models import User
from nurture.capture.models import LeadForm
from nurture.contacts.actions import CaptureResult, capture_lead
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Event
from nurture.core import clock
from nurture.lifecycle.models import StageChange


def save_lead_form(
    lead_form: LeadForm,
    *,
    fields: list[dict[str, Any]],
    consent_texts: dict[str, str],
    tags: list[str],
    user: User | None,
) -> LeadForm:
    """Save the builder's settings; the model's own fields were set by the ModelForm."""
    now = clock.now()
    with transaction.atomic():
        lead_form.fields = fields
        lead_form.consent_texts = consent_texts
        lead_form.tags = tags
        lead_form.updated_at = now
        if lead_form.pk is None:
            lead_form.created_at = now
            lead_form.created_by = user
        lead_form.save()
    return lead_form


def submit_lead_form(lead_form: LeadForm, data: dict[str, Any], *, ip: str = "") -> CaptureResult:
    """Capture a visitor's submission; raises InvalidLead naming the bad fields, writing nothing."""
    lead = parse_lead(data)
    lead.consent_texts = dict(lead_form.consent_texts or {})
    lead.event_data = {
        "form": lead_form.slug,
        "form_id": lead_form.pk,
        "fields": {k: v for k, v in data.items() if k not in ("consents", "tags") and v not in (None, "", {})},
        "ip": ip,
    }
    return capture_lead(
        lead,
        event_type=Event.Type.FORM_SUBMITTED,
        cause=StageChange.Cause.CAPTURE,
        source_label=f"form:{lead_form.slug}",
    )
