"""`{% contact_prediction contact as p %}`: the chance to buy and best time to contact, for any contact page.

A tag rather than view context so the contact page needs only `{% include "scoring/_prediction.html" %}`:
the contacts app does not have to know about predictive scoring.
"""

from __future__ import annotations

from typing import Any

from django import template

from nurture.contacts.models import Contact
from nurture.scoring import prediction

register = template.Library()


@register.simple_tag
def contact_prediction(contact: Contact) -> dict[str, Any]:
    return {
        "view": prediction.prediction_for(contact),
        "best_time": prediction.best_time_to_contact(contact),
        "fallback_text": prediction.fallback_text(),
    }
