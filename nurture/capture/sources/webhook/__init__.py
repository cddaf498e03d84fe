"""A generic signed webhook for any other tool (chatbots, landing-page builders): a JSON object per lead,
signed with HMAC-SHA256 of the raw body and the connection's secret in `X-Nurture-Signature: sha256=<hex>`.
The event id comes from `X-Nurture-Event-Id`, else the payload's `event_id` or `id`, else the body's hash."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import answer, body_key, hmac_sha256, json_object, signature_ok, try_sample
from nurture.contacts.models import Event

SIGNATURE_HEADER = "X-Nurture-Signature"
EVENT_ID_HEADER = "X-Nurture-Event-Id"
SAMPLE = {"event_id": "nurture-test", "name": "Nguyễn Thị Thử", "phone": "0912000111", "email": "thu@example.vn"}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, body)


def verified(request: HttpRequest, connection: Connection) -> bool:
    expected = sign(connection.signing_secret, request.body) if connection.signing_secret else ""
    return signature_ok(request.headers.get(SIGNATURE_HEADER, ""), expected)


def event_key(request: HttpRequest, payload: dict[str, Any]) -> str:
    given = request.headers.get(EVENT_ID_HEADER) or payload.get("event_id") or payload.get("id")
    return str(given) if given not in (None, "") else body_key(request.body)


def unreadable(request: HttpRequest, connection: Connection, kind: str) -> JsonResponse:
    """A signed body that is not a JSON object: kept as text in the dead-letter list, answered 400."""
    text = request.body.decode("utf-8", "replace")
    event = actions.dead_letter(connection, key=body_key(request.body), payload={"raw": text}, kind=kind,
                                reason="body: not a JSON object")  # fmt: skip
    return answer(event)


class WebhookSource:
    FIELDS: tuple[str, ...] = ("signing_secret",)

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        if not verified(request, connection):
            return HttpResponse(status=401)
        payload = json_object(request.body)
        if payload is None:
            return unreadable(request, connection, "lead")
        return answer(actions.receive_now(connection, key=event_key(request, payload), payload=payload, kind="lead"))

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        return actions.flatten(event.payload)

    def process(self, event: InboundEvent) -> int | None:
        connection = event.connection
        fields = self.fields(event)
        if "raw" in fields and len(fields) == 1:
            raise actions.Unmappable("body: not a JSON object (edit the payload into one and replay)")
        lead = actions.lead_from_fields(connection, fields, {
            "source": connection.source or "webhook", "campaign": connection.campaign,
        })  # fmt: skip
        lead.event_data = {"connection": connection.pk, "event": event.key, "fields": fields}
        return actions.capture_lead(
            lead, event_type=Event.Type.WEBHOOK_CAPTURED, source_label=f"webhook:{connection.name}"[:100]
        ).contact_id

    def check(self, connection: Connection) -> str:
        body = json.dumps(SAMPLE).encode()
        return try_sample(connection, body, {SIGNATURE_HEADER: sign(connection.signing_secret, body)})


SOURCE = WebhookSource()
