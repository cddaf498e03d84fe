from __future__ import annotations

from django.contrib import admin

from nurture.messaging.models import Suppression


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Suppressions added by hand (reason "manual") or lifted after a mailbox was fixed."""

    list_display = ("channel", "address", "reason", "detail", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
