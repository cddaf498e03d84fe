from __future__ import annotations

from django import template

from nurture.core.money import format_vnd

register = template.Library()


@register.filter
def vnd(amount: float | None) -> str:
    """1234567.4 -> "1.234.567 ₫"; no amount (a cost per lead without leads) -> "–"."""
    return "–" if amount is None else format_vnd(round(amount))
