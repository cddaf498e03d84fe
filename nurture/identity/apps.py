from __future__ import annotations

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "nurture.identity"
    label = "identity"

    def ready(self) -> None:
        from nurture.identity import jobs  # noqa: F401  (registers the batch de-duplication job)
