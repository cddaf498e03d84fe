from __future__ import annotations

from django.urls import path

from nurture.capture.sources.calls import views as calls
from nurture.capture.views import attribution, connections, forms, imports, tracking

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
    path("connections/", connections.connection_list, name="connections"),
    path("connections/new", connections.connection_edit, name="connection_new"),
    path("connections/<int:connection_id>/", connections.connection_edit, name="connection"),
    path("connections/<int:connection_id>/test", connections.connection_test, name="connection_test"),
    path("connections/<int:connection_id>/backfill", connections.connection_backfill, name="connection_backfill"),
    path("connections/dead-letters", connections.dead_letters, name="dead_letters"),
    path("connections/events/<int:event_id>/", connections.inbound_event, name="inbound_event"),
    path("hooks/capture/<str:key>", connections.hook, name="hook"),
    path("contacts/<int:contact_id>/call", calls.call_attempt, name="call_attempt"),
    path("t/nurture.js", tracking.snippet, name="track_snippet"),
    path("t/collect", tracking.collect, name="track_collect"),
    path("tracking/", tracking.overview, name="tracking"),
    path("tracking/sites/<int:site_id>", tracking.site_toggle, name="tracking_site"),
    path("tracking/retry", tracking.retry_failed, name="tracking_retry"),
    path("attribution/", attribution.report, name="attribution"),
    path("attribution/report.csv", attribution.report_csv, name="attribution_csv"),
    path("attribution/campaigns/", attribution.campaigns, name="campaigns"),
    path("attribution/campaigns/<int:campaign_id>/", attribution.campaign_detail, name="campaign"),
    path("attribution/costs/<int:cost_id>/delete", attribution.cost_delete, name="cost_delete"),
    path("attribution/costs/import", attribution.costs_import, name="costs_import"),
]
