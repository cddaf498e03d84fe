from __future__ import annotations

from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "nurture.contacts"
    label = "contacts"
