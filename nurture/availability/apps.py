from __future__ import annotations

from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "nurture.availability"
    label = "availability"
