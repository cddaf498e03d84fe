from __future__ import annotations

from django.urls import path

from nurture.capture.views import forms, imports

app_name = "capture"
urlpatterns = [
    path("forms/", forms.form_list, name="forms"),
    path("forms/new", forms.form_edit, name="form_new"),
    path("forms/<int:form_id>/", forms.form_edit, name="form_edit"),
    path("f/<slug:slug>", forms.hosted_form, name="hosted_form"),
    path("f/<slug:slug>/embed.js", forms.embed_script, name="form_embed"),
    path("imports/", imports.import_list, name="imports"),
    path("imports/<int:job_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:job_id>/start", imports.import_start, name="import_start"),
    path("imports/<int:job_id>/progress", imports.import_progress, name="import_progress"),
    path("imports/<int:job_id>/rejects.csv", imports.import_rejects, name="import_rejects"),
]
