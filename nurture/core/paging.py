"""Pages of a list: Django's paginator, without its COUNT when the first page holds the whole list."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator


def get_page(items: Any, per_page: int, number: str | None) -> Page:
    """As `Paginator(items, per_page).get_page(number)`. The first page reads one row more than it shows: when
    there is none, the list's length is known without a second query, which is so for most timelines and lists."""
    paginator = Paginator(items, per_page)
    if number not in (None, "", "1"):
        return paginator.get_page(number)
    rows = list(items[: per_page + 1])
    if len(rows) <= per_page:
        paginator.count = len(rows)  # overrides the cached property that would COUNT
    return Page(rows[:per_page], 1, paginator)
