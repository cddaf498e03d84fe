from __future__ import annotations

from django.urls import path

from nurture.contacts import views

app_name = "contacts"
urlpatterns = [
    path("contacts/new", views.new_contact, name="new"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="detail"),
    path("contacts/<int:contact_id>/timeline", views.timeline, name="timeline"),
    path("contacts/<int:contact_id>/notes", views.add_note, name="add_note"),
    path("contacts/<int:contact_id>/stage", views.change_stage, name="change_stage"),
]
