"""Which contacts a user may see. Every view and API handler goes through `visible_contacts`."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from nurture.accounts.models import ApiKey, User
from nurture.contacts.models import Contact


def survivor_id(principal: User | ApiKey | Any, contact_id: int) -> int | None:
    """Where a merged contact's tombstone points (the end of the chain), if that one is visible."""
    seen = set()
    current = contact_id
    while current not in seen:
        seen.add(current)
        into = Contact.objects.filter(pk=current).values_list("merged_into_id", flat=True).first()
        if into is None:
            break
        current = into
    if current == contact_id:
        return None
    return current if visible_contacts(principal).filter(pk=current).exists() else None


def visible_contacts(principal: User | ApiKey | Any) -> QuerySet[Contact]:
    """Contacts this user (or API key) may see: reps see their own and their team's."""
    qs = Contact.objects.filter(merged_into__isnull=True)  # tombstones of merges redirect instead
    if isinstance(principal, ApiKey):
        # Keys are issued by managers for integrations and act on the whole book.
        return qs
    if not isinstance(principal, User) or not principal.is_authenticated:
        return qs.none()
    if principal.sees_everything:
        return qs
    mine = Q(owner=principal)
    if principal.team_id:
        mine |= Q(owner__team_id=principal.team_id)
    return qs.filter(mine)
