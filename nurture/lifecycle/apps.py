from __future__ import annotations

from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "nurture.lifecycle"
    label = "lifecycle"

    def ready(self) -> None:
        from nurture.lifecycle import active, jobs  # noqa: F401  (jobs registers the rule jobs)

        active.watch()
