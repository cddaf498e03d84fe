"""Facebook Lead Ads: the page's `leadgen` webhook (verify-token handshake, X-Hub-Signature-256 with the app
secret) names a lead; a durable job fetches it from the Graph API with the page token, with retries and
back-off. A form's past leads are fetched over a date range (backfill), idempotent on the leadgen id."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import answer, body_key, hmac_sha256, json_object, signature_ok
from nurture.contacts.models import Event
from nurture.core.jobs import enqueue_on_commit
from nurture.messaging.providers.http import ProviderError, get_json

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEAD_FIELDS = "id,created_time,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,form_id,platform,field_data"
IDS = ("ad_id", "ad_name", "adset_id", "adset_name", "campaign_id", "campaign_name", "form_id", "platform")
BACKFILL_PAGE = 100


def graph(path: str) -> str:
    return f"{settings.NURTURE_FACEBOOK_GRAPH_URL.rstrip('/')}/{path}"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, body)


def _graph_get(connection: Connection, path: str, params: dict[str, str]) -> dict[str, Any]:
    if not connection.access_token:
        raise ProviderError("no page access token")
    answer = get_json(graph(path), {**params, "access_token": connection.access_token})
    if "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) else {"message": answer["error"]}
        raise ProviderError(f"Graph API: {error.get('message', error)}")
    return answer


def _created(raw: Any) -> datetime | None:
    try:
        return datetime.strptime(str(raw), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


class FacebookSource:
    FIELDS: tuple[str, ...] = ("account_id", "app_secret", "verify_token", "access_token")

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse:
        if request.method == "GET":  # the subscription handshake
            token = request.GET.get("hub.verify_token", "")
            if request.GET.get("hub.mode") == "subscribe" and signature_ok(token, connection.verify_token):
                return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
            return HttpResponse(status=403)
        if request.method != "POST":
            return HttpResponse(status=405)
        expected = signature(connection.app_secret, request.body) if connection.app_secret else ""
        if not signature_ok(request.headers.get(SIGNATURE_HEADER, ""), expected):
            return HttpResponse(status=401)
        payload = json_object(request.body)
        if payload is None:
            raw = {"raw": request.body.decode("utf-8", "replace")}
            return answer(actions.dead_letter(connection, key=body_key(request.body), payload=raw, kind="leadgen",
                                              reason="body: not a JSON object"))  # fmt: skip
        changes: list[Any] = [
            change.get("value") for entry in payload.get("entry") or [] if isinstance(entry, dict)
            for change in entry.get("changes") or [] if isinstance(change, dict) and change.get("field") == "leadgen"
        ]  # fmt: skip
        received = duplicates = 0
        dead: list[InboundEvent] = []
        with transaction.atomic():
            for n, value in enumerate(changes):
                if not isinstance(value, dict) or not value.get("leadgen_id"):
                    # The other leads of the batch still go in; this one waits in the dead letters.
                    dead.append(actions.dead_letter(
                        connection, key=f"{body_key(request.body)}:{n}", payload={"webhook": value}, kind="leadgen",
                        reason="entry.changes.value.leadgen_id: missing"))  # fmt: skip
                    continue
                event = actions.receive_later(connection, key=str(value["leadgen_id"]), payload={"webhook": value},
                                              kind="leadgen")  # fmt: skip
                received, duplicates = received + (event is not None), duplicates + (event is None)
        result = {"ok": not dead, "received": received, "duplicates": duplicates}
        if dead:
            return JsonResponse({**result, "error": dead[0].error, "dead_letters": [e.pk for e in dead]}, status=400)
        return JsonResponse(result)

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        data = (event.payload.get("lead") or {}).get("field_data") or []
        return {
            str(f["name"]): ", ".join(str(v) for v in f.get("values") or [])
            for f in data if isinstance(f, dict) and f.get("name")
        }  # fmt: skip

    def process(self, event: InboundEvent) -> int | None:
        connection = event.connection
        if not isinstance(event.payload.get("lead"), dict):
            # Fetched once and kept: a replay after a mapping fix does not ask Facebook again.
            event.payload = {**event.payload, "lead": _graph_get(connection, event.key, {"fields": LEAD_FIELDS})}
        lead_data: dict[str, Any] = event.payload["lead"]
        hook = event.payload.get("webhook") or {}
        lead = actions.lead_from_fields(connection, self.fields(event), {
            "source": connection.source or "facebook", "medium": "paid_social",
            "campaign": lead_data.get("campaign_name") or lead_data.get("campaign_id") or connection.campaign,
            "content": lead_data.get("ad_name") or lead_data.get("ad_id"), "term": lead_data.get("adset_name"),
        })  # fmt: skip
        lead.occurred_at = _created(lead_data.get("created_time"))
        lead.event_data = {
            "leadgen_id": event.key, "page_id": hook.get("page_id") or connection.account_id,
            **{k: lead_data[k] for k in IDS if lead_data.get(k)}, "fields": self.fields(event),
        }  # fmt: skip
        return actions.capture_lead(
            lead, event_type=Event.Type.LEAD_AD_SUBMITTED, source_label=f"facebook:{connection.name}"[:100]
        ).contact_id

    def check(self, connection: Connection) -> str:
        page = _graph_get(connection, connection.account_id or "me", {"fields": "id,name"})
        return _("Page %(name)s (%(id)s) answers with this token.") % {"name": page.get("name"), "id": page.get("id")}


SOURCE = FacebookSource()


def start_backfill(connection: Connection, *, form_id: str, since: datetime, until: datetime) -> None:
    """Fetch a form's leads created in [since, until) (the time the webhook was down) in background jobs."""
    if not form_id.strip().isdigit():
        raise actions.InvalidConnection("form_id", _("A Facebook form id is a number."))
    if since >= until:
        raise actions.InvalidConnection("since", _("The start must be before the end."))
    payload = {"connection_id": connection.pk, "form_id": form_id.strip(), "since": int(since.timestamp()),
               "until": int(until.timestamp()), "after": ""}  # fmt: skip
    with transaction.atomic():
        enqueue_on_commit("capture.facebook_backfill", payload, max_attempts=settings.NURTURE_CAPTURE_FETCH_ATTEMPTS)


def backfill_page(payload: dict[str, Any]) -> int:
    """One page of a backfill: each lead not seen yet is kept and captured (no second fetch), then the next
    page is queued. Returns how many leads were new."""
    connection = Connection.objects.get(pk=payload["connection_id"])
    filtering = [
        {"field": "time_created", "operator": "GREATER_THAN", "value": payload["since"] - 1},
        {"field": "time_created", "operator": "LESS_THAN", "value": payload["until"]},
    ]
    params = {"fields": LEAD_FIELDS, "filtering": json.dumps(filtering), "limit": str(BACKFILL_PAGE)}
    if payload.get("after"):
        params["after"] = payload["after"]
    page = _graph_get(connection, f"{payload['form_id']}/leads", params)
    new = 0
    with transaction.atomic():
        for lead_data in page.get("data") or []:
            if isinstance(lead_data, dict) and lead_data.get("id"):
                event = actions.receive_now(connection, key=str(lead_data["id"]), payload={"lead": lead_data},
                                            kind="leadgen")  # fmt: skip
                new += event is not None
        after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
        if after and (page.get("paging") or {}).get("next"):
            enqueue_on_commit("capture.facebook_backfill", {**payload, "after": after},
                              key=f"fb-backfill:{connection.pk}:{payload['form_id']}:{payload['since']}:{after}",
                              max_attempts=settings.NURTURE_CAPTURE_FETCH_ATTEMPTS)  # fmt: skip
    return new
