from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def require_configure(request: HttpRequest) -> None:
    """Forms, imports and API keys are set up by admins, managers and marketers only."""
    if not request.user.can_configure:  # type: ignore[union-attr]
        raise PermissionDenied
