from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "nurture.routing"
    label = "routing"

    def ready(self) -> None:
        from nurture.routing import config, jobs  # noqa: F401  (jobs registers the SLA timers and the capture hooks)

        config.watch()
