from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "nurture.notifications"
    label = "notifications"

    def ready(self) -> None:
        from nurture.core import revisions
        from nurture.notifications import jobs  # noqa: F401  (registers the email and webhook jobs)
        from nurture.notifications.models import WebhookChannel

        revisions.watch("notifications", WebhookChannel)
