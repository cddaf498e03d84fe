from __future__ import annotations

from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "nurture.sales"
    label = "sales"

    def ready(self) -> None:
        from nurture.sales import jobs  # noqa: F401  (registers the task timers and the rotting sweep)
