from __future__ import annotations

from django.urls import path

from nurture.accounts import views

app_name = "accounts"
urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke", views.revoke, name="revoke_api_key"),
]
