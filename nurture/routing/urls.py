from __future__ import annotations

from django.urls import path

from nurture.routing import views

app_name = "routing"
urlpatterns = [
    path("routing/", views.overview, name="overview"),
    path("routing/rules/new", views.rule_edit, name="rule_new"),
    path("routing/rules/<int:rule_id>/", views.rule_edit, name="rule"),
    path("routing/rules/<int:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("routing/policies/new", views.policy_edit, name="policy_new"),
    path("routing/policies/<int:policy_id>/", views.policy_edit, name="policy"),
    path("routing/policies/<int:policy_id>/delete", views.policy_delete, name="policy_delete"),
    path("routing/capacity", views.capacity, name="capacity"),
    path("routing/report", views.report, name="report"),
    path("leads/mine", views.my_leads, name="my_leads"),
    path("leads/queue", views.queue, name="queue"),
    path("leads/uncared", views.uncared, name="uncared"),
    path("leads/assign", views.bulk_assign, name="bulk_assign"),
    path("contacts/<int:contact_id>/assign", views.assign, name="assign"),
    path("contacts/<int:contact_id>/log", views.log, name="log"),
]
