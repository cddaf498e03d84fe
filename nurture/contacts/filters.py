"""Filters and search shared by the inbox and the API, so both find the same contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from nurture.contacts.models import Contact, Identity
from nurture.core.normalise import NormalisationError, fold, is_phone_like, normalize_phone

SORTS = {
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "activity": ("last_activity_at", "id"),
    "-activity": ("-last_activity_at", "-id"),
    "score": ("score", "id"),
    "-score": ("-score", "-id"),
    "name": ("name_folded", "id"),
    "-name": ("-name_folded", "-id"),
}
DEFAULT_SORT = "-created"


@dataclass
class ContactFilter:
    q: str = ""
    stage: str = ""
    source: str = ""
    campaign: str = ""
    owner: str = ""  # a user id, or "none" for unassigned
    created_from: date | None = None
    created_to: date | None = None
    tag: str = ""

    def apply(self, qs: QuerySet[Contact]) -> QuerySet[Contact]:
        if self.q:
            qs = search(qs, self.q)
        if self.stage:
            qs = qs.filter(stage__key=self.stage, stage__stage_set__is_active=True)
        if self.source:
            qs = qs.filter(source=self.source)
        if self.campaign:
            qs = qs.filter(campaign=self.campaign)
        if self.owner == "none":
            qs = qs.filter(owner__isnull=True)
        elif self.owner:
            qs = qs.filter(owner_id=int(self.owner))
        if self.tag:
            qs = qs.filter(tags__name=self.tag)
        tz = timezone.get_default_timezone()
        if self.created_from:
            qs = qs.filter(created_at__gte=datetime.combine(self.created_from, time.min, tzinfo=tz))
        if self.created_to:
            qs = qs.filter(created_at__lte=datetime.combine(self.created_to, time.max, tzinfo=tz))
        return qs


def search(qs: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """Find by phone in any written form, by email, or by name with or without diacritics."""
    text = text.strip()
    if is_phone_like(text):
        try:
            phone = normalize_phone(text, default_region=settings.NURTURE_DEFAULT_PHONE_REGION)
        except NormalisationError:
            digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0")
            return qs.filter(phone__contains=digits)
        owners = Identity.objects.filter(kind=Identity.Kind.PHONE, value=phone).values("contact_id")
        return qs.filter(Q(phone=phone) | Q(pk__in=owners))
    if "@" in text:
        return qs.filter(email__icontains=text.lower())
    folded = fold(text)
    return qs.filter(Q(name_folded__contains=folded) | Q(email__icontains=folded))
