"""Message templates, the messages sent, and sending one message to a contact, through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.messaging import actions
from nurture.messaging.models import Channel, Message, Template

router = Router(tags=["messaging"])
MAX_PAGE = 200


def _error(field: str, message: str, code: str = "invalid", prefix: str = "body") -> InvalidLead:
    error = InvalidLead([FieldError(field, code, message)])
    error.loc_prefix = [prefix]  # type: ignore[attr-defined]
    return error


class TemplateIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    channel: str = Field(..., description="email, sms or zalo")
    language: str = "vi"
    subject: str = Field("", max_length=300, description="email only")
    body: str = Field("", description="email and SMS text, or Zalo's free-form OA text")
    sms_body: str = Field("", description="Zalo only: the SMS sent on fallback")
    zns_template_id: str = Field("", max_length=50)
    zns_params: dict[str, str] = Field(default_factory=dict, description="ZNS parameter -> text with variables")
    is_active: bool = True


class TemplateOut(TemplateIn):
    id: int
    created_at: datetime
    updated_at: datetime


class MessageOut(Schema):
    id: int
    contact_id: int
    template_id: int | None
    channel: str
    route: str
    address: str
    subject: str
    body: str
    status: str
    reason: str = Field(..., description="why it was refused, skipped or failed (docs/messaging.md)")
    error: str
    key: str
    origin: str
    provider_id: str
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None

    @staticmethod
    def resolve_key(message: Message) -> str:
        return message.idempotency_key


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageQuery(Schema):
    status: str | None = None
    channel: str | None = None
    contact_id: int | None = None
    cursor: int | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class SendIn(Schema):
    contact_id: int
    channel: str = Field(..., description="email, sms or zalo")
    key: str = Field(..., min_length=1, max_length=200, description="idempotency key: sending again returns the first")
    template_id: int | None = None
    subject: str = Field("", description="without a template")
    body: str = Field("", description="without a template")
    context: dict[str, Any] = Field(default_factory=dict, description="extra template variables")
    fallback: str = Field("skip", description="Zalo without a route: skip or sms")


def _save(template: Template | None, payload: TemplateIn) -> Template:
    if payload.language not in dict(settings.LANGUAGES):
        raise _error("language", f"one of {', '.join(dict(settings.LANGUAGES))}")
    try:
        return actions.save_template(template, payload.dict())
    except actions.MessagingError as exc:
        raise _error(exc.field, exc.message, exc.code) from None


@router.get("/templates", response=list[TemplateOut], summary="Message templates")
def list_templates(request: HttpRequest, channel: str | None = None) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    templates = Template.objects.all()
    return templates.filter(channel=channel) if channel else templates


@router.post("/templates", response={201: TemplateOut}, summary="Create a template (unknown variables: 422)")
def create_template(request: HttpRequest, payload: TemplateIn) -> Status[Any]:
    require_scope(request, ApiKey.Scope.MESSAGING_WRITE)
    return Status(201, _save(None, payload))


@router.get("/templates/{template_id}", response=TemplateOut, summary="One template")
def get_template(request: HttpRequest, template_id: int) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return get_object_or_404(Template, pk=template_id)


@router.put("/templates/{template_id}", response=TemplateOut, summary="Replace a template")
def update_template(request: HttpRequest, template_id: int, payload: TemplateIn) -> Any:
    require_scope(request, ApiKey.Scope.MESSAGING_WRITE)
    return _save(get_object_or_404(Template, pk=template_id), payload)


@router.delete("/templates/{template_id}", response={204: None}, summary="Delete a template")
def delete_template(request: HttpRequest, template_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.MESSAGING_WRITE)
    get_object_or_404(Template, pk=template_id).delete()
    return Status(204, None)


@router.get("/messages", response=MessagePage, summary="Messages, newest first, filtered by status, channel, contact")
def list_messages(request: HttpRequest, query: Query[MessageQuery]) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    found = Message.objects.filter(contact__in=visible_contacts(request.auth))  # type: ignore[attr-defined]
    for name, value, allowed in (("status", query.status, Message.Status.values), ("channel", query.channel,
                                                                                   Channel.values)):  # fmt: skip
        if value is not None:
            if value not in allowed:
                raise _error(name, f"one of {', '.join(allowed)}", prefix="query")
            found = found.filter(**{name: value})
    if query.contact_id is not None:
        found = found.filter(contact_id=query.contact_id)
    if query.cursor is not None:
        last = Message.objects.filter(pk=query.cursor).values_list("created_at", flat=True).first()
        if last is None:
            raise _error("cursor", "not a cursor returned by this API", prefix="query")
        found = found.filter(Q(created_at__lt=last) | Q(created_at=last, pk__lt=query.cursor))
    page = list(found.order_by("-created_at", "-id")[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return {"items": page, "next_cursor": str(page[-1].pk) if more else None}


@router.post("/send", response={200: MessageOut, 201: MessageOut}, summary="Send one message to a contact")
def send(request: HttpRequest, payload: SendIn) -> Status[Any]:
    """201 with the new message (queued, or refused/skipped with its reason); 200 with the first message when
    the key was used before."""
    require_scope(request, ApiKey.Scope.MESSAGING_WRITE)
    contact = visible_contacts(request.auth).filter(pk=payload.contact_id).first()  # type: ignore[attr-defined]
    if contact is None:
        raise _error("contact_id", "no such contact", "not_found")
    template = None
    if payload.template_id is not None:
        template = Template.objects.filter(pk=payload.template_id, is_active=True).first()
        if template is None:
            raise _error("template_id", "no such active template", "not_found")
    elif not payload.body.strip():
        raise _error("body", "give a template_id or a body", "required")
    for name, text in (("subject", payload.subject), ("body", payload.body)) if template is None else ():
        try:
            unknown = actions.validate_template([text], extra=payload.context)
        except actions.TemplateInvalid as exc:
            raise _error(name, str(exc), "syntax") from None
        if unknown:
            raise _error(name, f"unknown variable: {', '.join(unknown)}", "unknown_variable")
    existed = Message.objects.filter(idempotency_key=payload.key).exists()
    try:
        message = actions.send(
            contact, channel=payload.channel, key=payload.key, template=template, subject=payload.subject,
            body=payload.body, context=payload.context, origin="api", fallback=payload.fallback,
        )  # fmt: skip
    except actions.MessagingError as exc:
        raise _error(exc.field, exc.message, exc.code) from None
    return Status(200 if existed else 201, message)
