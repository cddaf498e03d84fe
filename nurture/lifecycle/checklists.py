"""Qualification checklists: BANT and CHAMP items confirmed on a contact, and the condition they make."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

# One item may belong to both frameworks (Authority): it is confirmed once.
ITEMS = {
    "budget": _("Budget"),
    "authority": _("Authority"),
    "need": _("Need"),
    "timeline": _("Timeline"),
    "challenges": _("Challenges"),
    "money": _("Money"),
    "prioritisation": _("Prioritisation"),
}
FRAMEWORKS = {
    "bant": ("BANT", ("budget", "authority", "need", "timeline")),
    "champ": ("CHAMP", ("challenges", "authority", "money", "prioritisation")),
}


def confirmed_q(items: Iterable[str], outer: str = "pk") -> Q:
    """Contacts (or rows whose `outer` is a contact id) with every one of `items` confirmed."""
    from nurture.lifecycle.models import ChecklistItem

    q = Q()
    for item in items:
        q &= Q(Exists(ChecklistItem.objects.filter(contact_id=OuterRef(outer), item=item, confirmed=True)))
    return q
