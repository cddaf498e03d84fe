from __future__ import annotations

from django.urls import path

from nurture.segments import views

app_name = "segments"
urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new", views.segment_edit, name="create"),
    path("segments/preview", views.preview, name="preview"),
    path("segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("segments/<int:segment_id>/edit", views.segment_edit, name="edit"),
    path("segments/<int:segment_id>/delete", views.segment_delete, name="delete"),
    path("segments/<int:segment_id>/refresh", views.refresh_now, name="refresh"),
    path("segments/<int:segment_id>/members", views.change_members, name="members"),
    path("segments/<int:segment_id>/export.csv", views.export_csv, name="export"),
]
