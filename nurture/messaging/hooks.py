"""Public endpoints: the open pixel, tracked clicks, the unsubscribe page, and provider webhooks.

None of them needs a login: a signed token or a shared secret is the credential. A bad token is a 404, a bad
secret or signature a 401, and either way nothing is stored. Providers retry a webhook that fails, so every
handler is idempotent (a receipt that comes twice changes nothing the second time).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from nurture.contacts.models import Contact
from nurture.messaging import actions, tracking
from nurture.messaging.models import Channel, Message

log = logging.getLogger(__name__)

# The smallest transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
UNSUBSCRIBE_SOURCE = "unsubscribe link"
PREFERENCES_SOURCE = "preferences page"
ZALO_USER_EVENTS = ("user_send_text", "user_send_image", "user_send_link", "user_send_sticker", "user_send_gif",
                    "user_send_file", "user_send_audio", "user_send_location", "user_submit_info")  # fmt: skip


def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    message_id = tracking.unsign(tracking.OPEN, token)
    if not isinstance(message_id, int):
        raise Http404
    actions.record_open(message_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    return response


def click(request: HttpRequest, token: str) -> HttpResponse:
    value = tracking.unsign(tracking.CLICK, token)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise Http404
    message_id, url = value
    # Only links this app signed get here, and it signs only http(s) links; checked again all the same.
    if not (isinstance(url, str) and tracking.is_web_url(url)):
        raise Http404
    actions.record_click(message_id, url)
    return HttpResponseRedirect(url)


def _survivor(contact_id: int) -> Contact:
    """The contact a link was made for, or the one it was merged into since."""
    contact = Contact.objects.filter(pk=contact_id).first()
    for _hop in range(10):
        if contact is None or contact.merged_into_id is None:
            break
        contact = Contact.objects.filter(pk=contact.merged_into_id).first()
    if contact is None:
        raise Http404
    return contact


@csrf_exempt  # the token is the credential; mail providers POST the one-click request without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the preference page. POST: a one-click unsubscribe from the link's channel (RFC 8058, as mail
    clients send it), or the preference form."""
    value = tracking.unsign(tracking.UNSUBSCRIBE, token)
    if not (isinstance(value, list) and len(value) == 2 and value[1] in Channel.values):
        raise Http404
    contact, channel = _survivor(value[0]), value[1]
    saved = False
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") == "One-Click" or "unsubscribe" in request.POST:
            actions.set_preferences(contact, {channel: False}, source=UNSUBSCRIBE_SOURCE)
        else:
            wanted = {ch: request.POST.get(ch) == "on" for ch in Channel.values}
            actions.set_preferences(contact, wanted, source=PREFERENCES_SOURCE)
        saved = True
    state = actions.channel_state(contact)
    return render(request, "messaging/unsubscribe.html", {
        "channel": Channel(channel), "state": [(Channel(ch), state[ch]) for ch in Channel.values],
        "saved": saved, "subscribed": state[channel],
    })  # fmt: skip


# --- provider webhooks --------------------------------------------------------------------------------


def _secret_ok(given: str, expected: str) -> bool:
    # An unset secret refuses everything: an open receipt endpoint would let anyone mark messages delivered.
    return bool(expected) and constant_time_compare(given, expected)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def esms_receipt(request: HttpRequest) -> HttpResponse:
    """eSMS calls the CallbackUrl given with each message (an HTTP GET with SMSID, SendStatus, RequestId ...);
    the secret rides in its query string since eSMS sends no header. SendStatus 5: delivered, 4: rejected."""
    given = request.GET.get("secret") or request.headers.get("X-Nurture-Secret", "")
    if not _secret_ok(given, settings.NURTURE_ESMS_WEBHOOK_SECRET):
        return HttpResponse(status=401)
    data = request.GET if request.method == "GET" else request.POST
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except ValueError:
            return JsonResponse({"error": "body: not JSON"}, status=400)
    sms_id, request_id, status = str(data.get("SMSID", "")), str(data.get("RequestId", "")), str(data.get("SendStatus"))
    message = (Message.objects.filter(route=Message.Route.SMS, provider_id=sms_id).first() if sms_id else None) or (
        Message.objects.filter(idempotency_key=request_id).first() if request_id else None
    )
    if message is not None and status == "5":
        actions.mark_delivered(message)
    elif message is not None and status == "4":
        actions.mark_rejected(message, f"eSMS SendStatus 4 (rejected) {data.get('error_info', '')}".strip())
    return JsonResponse({"ok": True, "found": message is not None})


def zalo_signature(body: bytes, timestamp: str, *, app_id: str = "", secret: str = "") -> str:
    """Zalo's X-ZEvent-Signature: sha256 of app id + the raw body + the body's timestamp + the OA secret key
    (a capture connection's, else the settings')."""
    raw = (app_id or settings.NURTURE_ZALO_APP_ID).encode() + body + timestamp.encode()
    return hashlib.sha256(raw + (secret or settings.NURTURE_ZALO_OA_SECRET_KEY).encode()).hexdigest()


@csrf_exempt
@require_http_methods(["POST"])
def zalo_event(request: HttpRequest) -> HttpResponse:
    """The Zalo app's webhook: ZNS delivery receipts (user_received_message), and the follows and messages that
    open the OA's 7-day window."""
    try:
        event = json.loads(request.body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        return HttpResponse(status=401)  # unsigned garbage gets the same answer as a bad signature
    given = request.headers.get("X-ZEvent-Signature", "").removeprefix("mac=")
    configured = settings.NURTURE_ZALO_APP_ID and settings.NURTURE_ZALO_OA_SECRET_KEY
    expected = zalo_signature(request.body, str(event.get("timestamp", ""))) if configured else ""
    if not _secret_ok(given, expected):
        return HttpResponse(status=401)
    name = event.get("event_name", "")
    if name == "user_received_message":
        actions.record_zalo_receipt(str((event.get("message") or {}).get("msg_id", "")))
    elif name == "follow" or name in ZALO_USER_EVENTS:
        who = event.get("follower") if name == "follow" else event.get("sender")
        user_id = str((who or {}).get("id", ""))
        if user_id:
            text = (event.get("message") or {}).get("text", "")
            actions.record_zalo_interaction(user_id, followed=name == "follow", data={"event": name, "text": text})
    return JsonResponse({"ok": True})


def esp_event(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail's tracking signal (an ESP's webhook, already authenticated): bounces and complaints suppress the
    address, deliveries mark the message, an ESP-level unsubscribe is an unsubscribe."""
    message = _esp_message(event)
    # A hard bounce, or an address the ESP knows to be invalid (anymail normalises both ESP-wide).
    bounced = event.event_type == "bounced" or (event.event_type == "rejected" and event.reject_reason == "invalid")
    if (bounced or event.event_type == "complained") and event.recipient:
        detail = f"{esp_name}: {event.reject_reason or ''} {event.description or event.mta_response or ''}".strip()
        actions.record_bounce(event.recipient, complaint=event.event_type == "complained", detail=detail,
                              message=message)  # fmt: skip
    elif event.event_type == "delivered" and message is not None:
        actions.mark_delivered(message)
    elif event.event_type == "unsubscribed" and message is not None:
        actions.set_preferences(message.contact, {Channel.EMAIL: False}, source=f"{esp_name} unsubscribe")


def _esp_message(event: AnymailTrackingEvent) -> Message | None:
    message_id = (event.metadata or {}).get("nurture_message_id")
    if message_id and str(message_id).isdigit():
        return Message.objects.select_related("contact").filter(pk=int(message_id)).first()
    if event.message_id:
        return Message.objects.select_related("contact").filter(provider_id=event.message_id).first()
    return None


def esp_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An anymail tracking webhook that answers 401 to a missing or wrong secret (anymail itself says 400)."""

    @csrf_exempt
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return HttpResponse(status=401)
        try:
            return view(request, *args, **kwargs)
        except AnymailWebhookValidationFailure:
            return HttpResponse(status=401)

    return checked
