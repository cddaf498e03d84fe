from __future__ import annotations

from anymail import urls as anymail_urls
from django.urls import URLPattern, path

from nurture.messaging import hooks, views

app_name = "messaging"
# anymail's tracking webhooks (one per ESP), behind the 401 check: /hooks/email/<esp>/tracking/.
esp_hooks = [
    path(f"hooks/email/{p.pattern}", hooks.esp_webhook(p.callback), name=f"esp_{p.name}")
    for p in anymail_urls.urlpatterns
    if isinstance(p, URLPattern) and p.name and p.name.endswith("tracking_webhook")
]
urlpatterns = [
    path("messaging/templates", views.template_list, name="templates"),
    path("messaging/templates/new", views.template_edit, name="template_new"),
    path("messaging/templates/preview", views.template_preview, name="template_preview"),
    path("messaging/templates/<int:template_id>/", views.template_edit, name="template"),
    path("messaging/templates/<int:template_id>/delete", views.template_delete, name="template_delete"),
    path("messaging/messages", views.message_list, name="messages"),
    path("messaging/messages/<int:message_id>/retry", views.message_retry, name="retry"),
    path("messaging/policies", views.policies, name="policies"),
    path("m/o/<str:token>.gif", hooks.open_pixel, name="open"),
    path("m/c/<str:token>", hooks.click, name="click"),
    path("m/u/<str:token>", hooks.unsubscribe, name="unsubscribe"),
    path("hooks/sms/esms", hooks.esms_receipt, name="esms_hook"),
    path("hooks/zalo/zns", hooks.zalo_event, name="zalo_hook"),
    *esp_hooks,
]
