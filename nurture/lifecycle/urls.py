from __future__ import annotations

from django.urls import path

from nurture.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("lifecycle/", views.overview, name="overview"),
    path("lifecycle/sets/<int:set_id>/stages", views.edit_stages, name="stages"),
    path("lifecycle/sets/<int:set_id>/activate", views.activate, name="activate"),
    path("lifecycle/rules/new", views.rule_edit, name="rule_new"),
    path("lifecycle/rules/<int:rule_id>/", views.rule_edit, name="rule"),
    path("lifecycle/rules/<int:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("lifecycle/report", views.report, name="report"),
    path("contacts/<int:contact_id>/checklist", views.checklist, name="checklist"),
]
