"""Which contacts a user may see. Every view and API handler goes through `visible_contacts`."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from nurture.accounts.models import ApiKey, User
from nurture.contacts.models import Contact


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
