from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "nurture.core"
    label = "core"
