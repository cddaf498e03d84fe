"""Channel connectors: one folder per channel, each a `Source` (its webhook view, how an event becomes a lead,
and the connections page's test). A new channel is a new folder and a line in SOURCES."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare

from nurture.capture.models import Connection, InboundEvent


class Source(Protocol):
    # The Connection fields this channel's settings form shows.
    FIELDS: tuple[str, ...]

    def webhook(self, request: HttpRequest, connection: Connection) -> HttpResponse: ...

    def process(self, event: InboundEvent) -> int | None:
        """The contact the event landed on (None: kept until the person can be identified)."""
        ...

    def check(self, connection: Connection) -> str:
        """The connections page's test: send a sample event through the real path, or check the credentials.
        Returns what happened; raises ProviderError or Unmappable."""
        ...

    def fields(self, event: InboundEvent) -> dict[str, Any]:
        """The provider fields of an event, as the mapping editor lists them."""
        ...


def hmac_sha256(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(given: str, expected: str) -> bool:
    # An unset secret refuses everything: an open endpoint would let anyone create leads.
    return bool(expected) and constant_time_compare(given, expected)


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def body_key(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def answer(event: InboundEvent | None) -> JsonResponse:
    """A replay is accepted (200) without doing anything again; a dead event is a 400 with its reason."""
    if event is None:
        return JsonResponse({"ok": True, "duplicate": True})
    if event.status == InboundEvent.Status.DEAD:
        return JsonResponse({"ok": False, "error": event.error, "dead_letter": event.pk}, status=400)
    return JsonResponse({"ok": True, "event": event.pk, "contact_id": event.contact_id})


def _sources() -> dict[str, Source]:
    from nurture.capture.sources import calls, facebook, google, webhook
    from nurture.capture.sources.zalo import oa

    return {
        Connection.Channel.FACEBOOK: facebook.SOURCE,
        Connection.Channel.ZALO: oa.SOURCE,
        Connection.Channel.GOOGLE: google.SOURCE,
        Connection.Channel.WEBHOOK: webhook.SOURCE,
        Connection.Channel.CALLS: calls.SOURCE,
    }


class _Registry(dict[str, Source]):
    """Filled on first use: the sources import capture's actions, which import this package."""

    def __missing__(self, channel: str) -> Source:
        self.update(_sources())
        return dict.__getitem__(self, channel)


SOURCES: dict[str, Source] = _Registry()


def try_sample(connection: Connection, body: bytes, headers: dict[str, str]) -> str:
    """Post a signed sample event to the connection's own webhook view and roll everything back: the test
    goes through the real path (signature, idempotency, mapping, capture) and leaves nothing behind."""
    from django.db import transaction
    from django.test import RequestFactory

    from nurture.capture.actions import Unmappable
    from nurture.capture.views.connections import hook

    request = RequestFactory().post(
        f"/hooks/capture/{connection.key}", body, content_type="application/json", headers=headers
    )
    with transaction.atomic():
        response = hook(request, connection.key)
        transaction.set_rollback(True)
    text = response.content.decode("utf-8", "replace")[:500]
    if response.status_code != 200:
        raise Unmappable(f"HTTP {response.status_code}: {text}")
    return f"HTTP 200: {text}"
