from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from nurture.accounts.models import Team, User

admin.site.register(Team)


@admin.register(User)
class NurtureUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Nurture", {"fields": ("role", "team", "phone", "sees_all_contacts")}))
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
