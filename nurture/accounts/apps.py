from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "nurture.accounts"
    label = "accounts"

    def ready(self) -> None:
        from nurture.accounts import auth, people

        auth.watch()
        people.watch()
