"""`{% options choices selected %}`: a select's <option>s, for any page."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def options(choices: Iterable[tuple[Any, Any]], selected: Any = "") -> SafeString:
    """<option>s from (value, label) pairs, built in Python: the form widgets' per-option templates (and a template
    loop) cost the lead page, which renders several selects, more than its queries (bench/pipeline.py)."""
    chosen = "" if selected is None else str(selected)
    return mark_safe(
        "".join(
            f'<option value="{escape(str(v))}"{" selected" if str(v) == chosen else ""}>{escape(str(label))}</option>'
            for v, label in choices
        )
    )  # every value and label is escaped
