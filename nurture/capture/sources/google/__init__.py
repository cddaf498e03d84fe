"""Google Ads lead form extensions: Google posts each lead as JSON to the webhook URL with the key typed in the
form's settings (`google_key`); `lead_id` is unique per lead; `is_test` marks Google's "Send test data"
button (kept as received, no contact made)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import answer, body_key, json_object, signature_ok, try_sample
from nurture.contacts.models import Event

IDS = ("lead_id", "form_id", "campaign_id", "adgroup_id", "creative_id", "gcl_id", "api_version", "is_test")
SAMPLE_COLUMNS = [
    {"column_id": "FULL_NAME", "column_name": "Full Name", "string_value": "Trần Văn Thử"},
    {"column_id": "PHONE_NUMBER", "column_name": "User Phone", "string_value": "+84912000222"},
    {"column_id": "EMAIL", "column_name": "User Email", "string_value": "thu@example.vn"},
]


class GoogleSource:
    FIELDS: tuple[str, ...] = ("signing_secret",)

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        payload = json_object(request.body)
        # The key rides inside the body: an unreadable body is as unsigned as a wrong key.
        if payload is None or not signature_ok(str(payload.get("google_key", "")), connection.signing_secret):
            return HttpResponse(status=401)
        payload = {k: v for k, v in payload.items() if k != "google_key"}  # a secret is not kept with the lead
        if not payload.get("lead_id"):
            return answer(actions.dead_letter(connection, key=body_key(request.body), payload=payload, kind="lead",
                                              reason="lead_id: missing"))  # fmt: skip
        if payload.get("is_test") is True:
            return answer(actions.record_test_event(connection, key=str(payload["lead_id"]), payload=payload))
        return answer(actions.receive_now(connection, key=str(payload["lead_id"]), payload=payload, kind="lead"))

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        columns = event.payload.get("user_column_data") or []
        return {
            str(c.get("column_id") or c.get("column_name")): c.get("string_value", "")
            for c in columns if isinstance(c, dict) and (c.get("column_id") or c.get("column_name"))
        }  # fmt: skip

    def process(self, event: InboundEvent) -> int | None:
        connection, payload = event.connection, event.payload
        lead = actions.lead_from_fields(connection, self.fields(event), {
            "source": connection.source or "google", "medium": "cpc",
            "campaign": connection.campaign or str(payload.get("campaign_id") or ""),
        })  # fmt: skip
        lead.event_data = {**{k: payload[k] for k in IDS if k in payload}, "fields": self.fields(event)}
        return actions.capture_lead(
            lead, event_type=Event.Type.LEAD_AD_SUBMITTED, source_label=f"google:{connection.name}"[:100]
        ).contact_id

    def check(self, connection: Connection) -> str:
        body = json.dumps({
            "lead_id": "nurture-test", "form_id": 1, "campaign_id": 1, "google_key": connection.signing_secret,
            "is_test": False, "user_column_data": SAMPLE_COLUMNS,
        }).encode()  # fmt: skip
        return try_sample(connection, body, {})


SOURCE = GoogleSource()
