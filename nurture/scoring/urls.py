from __future__ import annotations

from django.urls import path

from nurture.scoring import views

app_name = "scoring"
urlpatterns = [
    path("scoring/", views.rules, name="rules"),
    path("scoring/rules/new", views.rule_edit, name="rule_new"),
    path("scoring/rules/<int:rule_id>/", views.rule_edit, name="rule"),
    path("scoring/rules/<int:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("scoring/runs/<int:run_id>/", views.run_detail, name="run"),
    path("scoring/models/", views.models, name="models"),
    path("scoring/models/train", views.train, name="train"),
    path("scoring/models/runs/<int:run_id>/", views.training_run, name="training_run"),
    path("contacts/<int:contact_id>/score", views.contact_score, name="contact_score"),
]
