from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "nurture.routing"
    label = "routing"

    def ready(self) -> None:
        from nurture.routing import jobs  # noqa: F401  (registers the SLA timers and the capture hooks)
