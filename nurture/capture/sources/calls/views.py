from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from nurture.capture.sources.calls import log_call_attempt
from nurture.contacts.access import visible_contacts


@login_required
@require_POST
def call_attempt(request: HttpRequest, contact_id: int) -> JsonResponse:
    """Sent by the lead page's click-to-call link as the phone app opens (navigator.sendBeacon)."""
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    event = log_call_attempt(contact, actor=request.user)  # type: ignore[arg-type]
    return JsonResponse({"ok": True, "event": event.pk})
