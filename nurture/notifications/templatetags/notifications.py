"""The bell in the header: `{% load notifications %}{% notification_bell %}` (it then refreshes itself)."""

from __future__ import annotations

from typing import Any

from django import template

from nurture.notifications.actions import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"unread": unread_count(user) if user is not None and user.is_authenticated else 0}
