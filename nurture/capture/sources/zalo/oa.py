"""Zalo Official Account: follows, messages (text, image ...), a follower sharing their phone (the OA's
"request user info" form: user_submit_info) and the OA's own replies, signed with X-ZEvent-Signature.

A Zalo user is known only by their user id until they share a phone: their events wait, kept, and when they
share it they become a contact carrying the Zalo id, with the waiting conversation put on their timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import answer, json_object, signature_ok, try_sample
from nurture.capture.sources.zalo import tokens
from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.models import Event, Identity
from nurture.core import clock
from nurture.messaging import actions as messaging
from nurture.messaging.hooks import zalo_signature
from nurture.messaging.providers.http import ProviderError, get_json

SIGNATURE_HEADER = "X-ZEvent-Signature"
USER_EVENTS = ("user_send_text", "user_send_image", "user_send_link", "user_send_sticker", "user_send_gif",
               "user_send_file", "user_send_audio", "user_send_location")  # fmt: skip
OA_EVENTS = ("oa_send_text", "oa_send_image", "oa_send_file", "oa_send_list")
INFO = "user_submit_info"
HANDLED = (*USER_EVENTS, *OA_EVENTS, INFO, "follow")
# Zalo's info form -> contact fields (province: Zalo's "city").
INFO_FIELDS = {"name": "full_name", "phone": "phone", "address": "address", "city": "province"}


def _user_id(event: dict[str, Any]) -> str:
    name = str(event.get("event_name", ""))
    who = event.get("follower") if name == "follow" else event.get("recipient" if name in OA_EVENTS else "sender")
    return str((who or {}).get("id", "")) if isinstance(who, dict) else ""


def _at(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _message_data(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("message")
    message: dict[str, Any] = raw if isinstance(raw, dict) else {}
    data: dict[str, Any] = {"event": event.get("event_name"), "text": str(message.get("text") or "")}
    urls = [
        str((a.get("payload") or {}).get("url") or "")
        for a in message.get("attachments") or [] if isinstance(a, dict)
    ]  # fmt: skip
    if any(urls):
        data["attachments"] = [u for u in urls if u]
    if message.get("msg_id"):
        data["msg_id"] = str(message["msg_id"])
    return data


class ZaloSource:
    FIELDS: tuple[str, ...] = ("account_id", "app_id", "app_secret", "signing_secret", "access_token", "refresh_token",
              "token_expires_at")  # fmt: skip

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        event = json_object(request.body)
        if event is None:
            return HttpResponse(status=401)  # unsigned garbage gets the same answer as a bad signature
        given = request.headers.get(SIGNATURE_HEADER, "").removeprefix("mac=")
        expected = (
            zalo_signature(request.body, str(event.get("timestamp", "")), app_id=connection.app_id,
                           secret=connection.signing_secret)
            if connection.app_id and connection.signing_secret else ""
        )  # fmt: skip
        if not signature_ok(given, expected):
            return HttpResponse(status=401)
        name = str(event.get("event_name", ""))
        if name == "user_received_message":
            messaging.record_zalo_receipt(str((event.get("message") or {}).get("msg_id", "")))
            return JsonResponse({"ok": True})
        if name not in HANDLED:
            return JsonResponse({"ok": True, "ignored": name})
        user_id = _user_id(event)
        msg_id = str((event.get("message") or {}).get("msg_id", "")) if isinstance(event.get("message"), dict) else ""
        key = f"{name}:{msg_id}" if msg_id else f"{name}:{user_id}:{event.get('timestamp', '')}"
        if not user_id:
            return answer(actions.dead_letter(connection, key=key, payload=event, kind=name,
                                              reason="sender.id: missing"))  # fmt: skip
        return answer(actions.receive_now(connection, key=key, payload=event, kind=name, sender=user_id))

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        info = event.payload.get("info")
        return {str(k): v for k, v in info.items()} if isinstance(info, dict) else {}

    def process(self, event: InboundEvent) -> int | None:
        if event.kind == INFO:
            return self._capture(event)
        contact_id = (
            Identity.objects.filter(kind=Identity.Kind.ZALO, value=event.sender)
            .values_list("contact_id", flat=True)
            .first()
        )
        if contact_id is None:
            return None  # waits for this follower to share a phone
        data = _message_data(event.payload) if event.kind != "follow" else {"event": "follow"}
        if event.kind in OA_EVENTS:
            record_events([EventInput(contact_id=contact_id, type=Event.Type.ZALO_MESSAGE_SENT, at=_at(event.payload),
                                      source="zalo", data=data)])  # fmt: skip
        else:
            # Through messaging: the 7-day window opens again and a text can be the reply to a message sent.
            messaging.record_zalo_interaction(event.sender, followed=event.kind == "follow", data=data)
        return contact_id

    def _capture(self, event: InboundEvent) -> int:
        connection = event.connection
        fields = {INFO_FIELDS.get(k, k): v for k, v in self.fields(event).items()}
        if not fields.get("phone"):
            raise actions.Unmappable("info.phone: missing")
        lead = actions.lead_from_fields(connection, fields, {
            "source": connection.source or "zalo", "campaign": connection.campaign, "zalo_id": event.sender,
        })  # fmt: skip
        lead.occurred_at = _at(event.payload)
        lead.event_data = {"oa_id": connection.account_id, "zalo_id": event.sender, "fields": self.fields(event)}
        result = actions.capture_lead(
            lead, event_type=Event.Type.ZALO_INFO_SHARED, source_label=f"zalo:{connection.name}"[:100]
        )
        _attach_waiting(connection, event.sender, result.contact_id)
        return result.contact_id

    def check(self, connection: Connection) -> str:
        if connection.refresh_token and (
            connection.token_expires_at is None or connection.token_expires_at <= clock.now()
        ):
            connection = tokens.refresh(connection.pk, force=True)
        oa = get_json(f"{settings.NURTURE_ZALO_OA_URL.rstrip('/')}/v2.0/oa/getoa", {},
                      headers={"access_token": connection.access_token})  # fmt: skip
        if oa.get("error") not in (0, None):
            raise ProviderError(f"Zalo {oa.get('error')}: {oa.get('message', '')}")
        name = (oa.get("data") or {}).get("name", "")
        sample = {"app_id": connection.app_id, "event_name": "follow", "timestamp": "0",
                  "follower": {"id": "nurture-test"}, "oa_id": connection.account_id}  # fmt: skip
        body = json.dumps(sample).encode()
        mac = zalo_signature(body, "0", app_id=connection.app_id, secret=connection.signing_secret)
        result = try_sample(connection, body, {SIGNATURE_HEADER: f"mac={mac}"})
        return _("OA %(name)s answers with this token; a signed sample event: %(result)s") % {
            "name": name, "result": result}  # fmt: skip


def _attach_waiting(connection: Connection, user_id: str, contact_id: int) -> None:
    """Put what this follower said before sharing their phone on the new contact's timeline, at its times."""
    pending = InboundEvent.objects.filter(connection=connection, sender=user_id, status=InboundEvent.Status.WAITING)
    waiting = list(pending.order_by("received_at", "pk"))
    if not waiting:
        return
    kinds = {"follow": Event.Type.ZALO_FOLLOWED, **{k: Event.Type.ZALO_MESSAGE_SENT for k in OA_EVENTS}}
    record_events([
        EventInput(contact_id=contact_id, type=kinds.get(e.kind, Event.Type.ZALO_MESSAGE_RECEIVED),
                   at=_at(e.payload) or e.received_at, source="zalo",
                   data=_message_data(e.payload) if e.kind != "follow" else {"event": "follow"})
        for e in waiting
    ])  # fmt: skip
    InboundEvent.objects.filter(pk__in=[e.pk for e in waiting]).update(
        status=InboundEvent.Status.DONE, contact_id=contact_id, processed_at=clock.now()
    )


SOURCE = ZaloSource()
