from __future__ import annotations

from django.urls import path

from nurture.notifications import views

app_name = "notifications"
urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/count", views.count, name="count"),
    path("notifications/read", views.mark_all_read, name="mark_all_read"),
    path("notifications/<int:notification_id>/", views.open_notification, name="open"),
    path("notifications/channels/", views.channel_list, name="channels"),
    path("notifications/channels/new", views.channel_edit, name="channel_new"),
    path("notifications/channels/<int:channel_id>/", views.channel_edit, name="channel_edit"),
    path("notifications/channels/<int:channel_id>/delete", views.channel_delete, name="channel_delete"),
    path("notifications/channels/<int:channel_id>/test", views.channel_test, name="channel_test"),
]
