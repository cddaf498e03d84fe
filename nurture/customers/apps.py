from __future__ import annotations

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "nurture.customers"
    label = "customers"
