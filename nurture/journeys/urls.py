from __future__ import annotations

from django.urls import path

from nurture.journeys import views

app_name = "journeys"
urlpatterns = [
    path("journeys/", views.journey_list, name="list"),
    path("journeys/new", views.journey_edit, name="new"),
    path("journeys/templates/<slug:key>/install", views.install, name="install"),
    path("journeys/<int:journey_id>/", views.journey_detail, name="detail"),
    path("journeys/<int:journey_id>/edit", views.journey_edit, name="edit"),
    path("journeys/<int:journey_id>/steps/new", views.step_edit, name="step_new"),
    path("journeys/<int:journey_id>/steps/<str:step_id>/", views.step_edit, name="step"),
    path("journeys/<int:journey_id>/steps/<str:step_id>/change", views.step_change, name="step_change"),
    path("journeys/<int:journey_id>/publish", views.publish, name="publish"),
    path("journeys/<int:journey_id>/status", views.set_status, name="status"),
    path("journeys/<int:journey_id>/test", views.test_run, name="test"),
    path("journeys/<int:journey_id>/enrol", views.enrol, name="enrol"),
    path("contacts/<int:contact_id>/journeys/enrol", views.contact_enrol, name="contact_enrol"),
    path("contacts/<int:contact_id>/journeys/<int:journey_id>/exit", views.contact_exit, name="contact_exit"),
]
