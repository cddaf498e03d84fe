"""Connections over the API: each channel's status, the dead-letter list, replay and the test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from nurture.accounts.auth import require_scope
from nurture.accounts.models import ApiKey, User
from nurture.capture import actions
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import SOURCES
from nurture.messaging.providers.http import ProviderError

router = Router(tags=["connections"])


def _allowed(request: HttpRequest) -> None:
    require_scope(request, ApiKey.Scope.LEADS_WRITE)
    principal = request.auth  # type: ignore[attr-defined]
    if isinstance(principal, User) and not principal.can_configure:
        raise HttpError(403, "connections are managed by admins, managers and marketers")


class ConnectionOut(Schema):
    id: int
    channel: str
    name: str
    is_active: bool
    webhook_path: str
    last_event_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    token_expires_at: datetime | None
    dead_letters: int


class EventOut(Schema):
    id: int
    connection_id: int
    kind: str
    key: str
    status: str
    error: str
    attempts: int
    contact_id: int | None
    received_at: datetime
    payload: dict[str, Any]


class ReplayIn(Schema):
    payload: dict[str, Any] | None = Field(None, description="a corrected payload; without it, the kept one")


class TestOut(Schema):
    ok: bool
    result: str


@router.get("", response=list[ConnectionOut], summary="Every connection with its status")
def list_connections(request: HttpRequest) -> list[ConnectionOut]:
    _allowed(request)
    dead = dict(
        InboundEvent.objects.filter(status=InboundEvent.Status.DEAD)
        .values("connection_id")
        .annotate(n=Count("id"))
        .values_list("connection_id", "n")
    )
    return [
        ConnectionOut(
            id=c.pk,
            channel=c.channel,
            name=c.name,
            is_active=c.is_active,
            webhook_path=f"/hooks/capture/{c.key}",
            last_event_at=c.last_event_at,
            last_error=c.last_error,
            last_error_at=c.last_error_at,
            token_expires_at=c.token_expires_at,
            dead_letters=dead.get(c.pk, 0),
        )  # fmt: skip
        for c in Connection.objects.all()
    ]


def _event_out(e: InboundEvent) -> EventOut:
    return EventOut(
        id=e.pk, connection_id=e.connection_id, kind=e.kind, key=e.key, status=e.status, error=e.error,
        attempts=e.attempts, contact_id=e.contact_id, received_at=e.received_at, payload=e.payload,
    )  # fmt: skip


@router.get("/dead-letters", response=list[EventOut], summary="Events that could not become a lead")
def list_dead_letters(request: HttpRequest, connection_id: int | None = None) -> list[EventOut]:
    _allowed(request)
    events = InboundEvent.objects.filter(status=InboundEvent.Status.DEAD)
    if connection_id is not None:
        events = events.filter(connection_id=connection_id)
    return [_event_out(e) for e in events[:500]]


@router.post("/events/{event_id}/replay", response=EventOut, summary="Replay a dead event (optionally corrected)")
def replay(request: HttpRequest, event_id: int, body: ReplayIn) -> EventOut:
    _allowed(request)
    event = get_object_or_404(InboundEvent.objects.select_related("connection"), pk=event_id)
    try:
        return _event_out(actions.replay_inbound(event, payload=body.payload))
    except actions.InvalidConnection as exc:
        raise HttpError(422, f"{exc.field}: {exc}") from None


@router.post("/{connection_id}/test", response=TestOut, summary="Send a sample event or check the credentials")
def test(request: HttpRequest, connection_id: int) -> TestOut:
    _allowed(request)
    connection = get_object_or_404(Connection, pk=connection_id)
    try:
        return TestOut(ok=True, result=SOURCES[connection.channel].check(connection))
    except (ProviderError, actions.Unmappable) as exc:
        return TestOut(ok=False, result=str(exc))
