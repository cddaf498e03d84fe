from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "nurture.identity"
    label = "identity"

    def ready(self) -> None:
        from nurture.core import revisions
        from nurture.identity import jobs  # noqa: F401  (registers the batch de-duplication job)
        from nurture.identity.models import MatchSettings

        revisions.watch("identity", MatchSettings)
