from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "nurture.journeys"
    label = "journeys"
    verbose_name = _("Journeys")

    def ready(self) -> None:
        from nurture.core import revisions
        from nurture.journeys import jobs  # noqa: F401  (registers the hooks, the webhook job and the date trigger)
        from nurture.journeys.models import Journey, JourneyVersion

        revisions.watch("journeys", Journey, JourneyVersion)
