from __future__ import annotations

from django.urls import path

from nurture.identity import views

app_name = "identity"
urlpatterns = [
    path("duplicates/", views.queue, name="queue"),
    path("duplicates/bulk", views.bulk, name="bulk"),
    path("duplicates/<int:pair_id>/", views.pair_detail, name="pair"),
    path("duplicates/<int:pair_id>/merge", views.merge_pair, name="merge"),
    path("duplicates/<int:pair_id>/not-same", views.not_same, name="not_same"),
    path("duplicates/<int:pair_id>/skip", views.skip, name="skip"),
    path("duplicates/runs/", views.runs, name="runs"),
    path("duplicates/runs/<int:run_id>/", views.run_detail, name="run"),
    path("duplicates/runs/<int:run_id>/report.csv", views.run_report, name="run_report"),
    path("duplicates/settings/", views.match_settings, name="settings"),
    path("contacts/<int:contact_id>/merge", views.merge_into, name="merge_into"),
    path("merges/<int:merge_id>/undo", views.undo, name="undo"),
]
