"""`{% lead_routing contact as r %}`: the owner's assignment history, SLA clock and quick-log forms.

A tag rather than view context so the contact page needs only `{% include "routing/_lead.html" %}`.
"""

from __future__ import annotations

from typing import Any

from django import template

from nurture.accounts import people
from nurture.accounts.models import User
from nurture.contacts.actions import OUTCOMES, OUTCOMES_OF
from nurture.contacts.models import Contact
from nurture.routing.forms import AssignForm
from nurture.routing.models import Assignment, AssignmentRule

register = template.Library()
HISTORY = 10


@register.simple_tag
def lead_routing(contact: Contact) -> dict[str, Any]:
    history = people.attach(Assignment.objects.filter(contact=contact)[:HISTORY], "user", "actor")
    current = next((a for a in history if a.is_current), None)
    # The reassign select's choices as a list: the form field's iterator costs a COUNT and a server-side cursor.
    empty = AssignForm.base_fields["user"].empty_label  # type: ignore[attr-defined]
    return {
        "current": current, "history": history,
        "owners": [("", empty), *((p.pk, p.username) for p in people.active() if p.role != User.Role.CARE_AGENT)],
        "activities": [(kind, [(v, OUTCOMES[v]) for v in values]) for kind, values in OUTCOMES_OF.items()],
    }  # fmt: skip


@register.filter
def strategy_label(value: str) -> str:
    """ "round_robin" -> "Round-robin in a fixed order" (in the user's language); an unknown value as it is."""
    labels = dict(AssignmentRule.Strategy.choices)
    return str(labels.get(value, value))
