from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from nurture.identity.views import visible_open_pairs


def duplicates(request: HttpRequest) -> dict[str, Any]:
    """The number of possible duplicates waiting, for the navigation."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"open_duplicates": visible_open_pairs(request.user).count()}
