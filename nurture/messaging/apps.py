from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "nurture.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from anymail.signals import tracking

        from nurture.messaging import hooks, jobs  # noqa: F401 - registers the job handler

        # anymail reports ESP events only through its signal; the receiver calls one action, in plain sight.
        tracking.connect(hooks.esp_event, dispatch_uid="nurture.messaging.esp_event")
