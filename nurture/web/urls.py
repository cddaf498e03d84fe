from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from nurture.contacts.views import inbox

app_name = "web"
urlpatterns = [
    path("", inbox, name="inbox"),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False), name="api_docs"),
]
