"""The one clock every action reads, so tests move time instead of waiting for it."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
