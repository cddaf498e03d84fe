from __future__ import annotations

from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "nurture.capture"
    label = "capture"

    def ready(self) -> None:
        from nurture.capture import jobs  # noqa: F401 - registers the job handlers
