"""`{{ moment|ago }}`: Django's timesince with strings of our own catalogue (Django ships none in Vietnamese)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.timesince import timesince
from django.utils.translation import ngettext_lazy

register = template.Library()

TIME_STRINGS: dict[str, Any] = {  # lazy: translated when shown
    "year": ngettext_lazy("%(num)d year", "%(num)d years", "num"),
    "month": ngettext_lazy("%(num)d month", "%(num)d months", "num"),
    "week": ngettext_lazy("%(num)d week", "%(num)d weeks", "num"),
    "day": ngettext_lazy("%(num)d day", "%(num)d days", "num"),
    "hour": ngettext_lazy("%(num)d hour", "%(num)d hours", "num"),
    "minute": ngettext_lazy("%(num)d minute", "%(num)d minutes", "num"),
}


@register.filter
def ago(moment: datetime | None) -> str:
    return timesince(moment, time_strings=TIME_STRINGS) if moment else ""
