from __future__ import annotations

from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "nurture.segments"
    label = "segments"

    def ready(self) -> None:
        from nurture.segments import jobs  # noqa: F401  (registers the refresh jobs)
