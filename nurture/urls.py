from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from nurture.api import api

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("nurture.capture.urls")),
    path("", include("nurture.contacts.urls")),
    path("", include("nurture.identity.urls")),
    path("", include("nurture.scoring.urls")),
    path("", include("nurture.lifecycle.urls")),
    path("", include("nurture.routing.urls")),
    path("", include("nurture.segments.urls")),
    path("", include("nurture.journeys.urls")),
    path("", include("nurture.accounts.urls")),
    path("", include("nurture.availability.urls")),
    path("", include("nurture.notifications.urls")),
    path("", include("nurture.messaging.urls")),
    path("", include("nurture.sales.urls")),
    path("", include("nurture.web.urls")),
]
