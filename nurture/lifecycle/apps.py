from __future__ import annotations

from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "nurture.lifecycle"
    label = "lifecycle"
