from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import ConfigDict

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey, User
from nurture.contacts import actions
from nurture.contacts.access import survivor_id, visible_contacts
from nurture.contacts.filters import ContactFilter
from nurture.contacts.leads import FieldError, InvalidLead, parse_lead
from nurture.contacts.models import Contact
from nurture.lifecycle.actions import StageError
from nurture.lifecycle.models import Stage, StageChange

router = Router(tags=["contacts"])
MAX_PAGE = 200


class IdentityOut(Schema):
    kind: str
    value: str


class StageOut(Schema):
    key: str
    name: str


class OwnerOut(Schema):
    id: int
    name: str


class ContactOut(Schema):
    id: int
    full_name: str
    family_name: str
    given_name: str
    gender: str
    birth_date: date | None
    email: str
    phone: str
    identities: list[IdentityOut]
    company: str | None
    job_title: str
    industry: str
    province: str
    address: str
    need: str
    preferred_contact_time: str
    stage: StageOut
    owner: OwnerOut | None
    score: int
    source: str
    medium: str
    campaign: str
    referrer: str
    landing_url: str
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime

    @staticmethod
    def build(contact: Contact) -> ContactOut:
        return ContactOut(
            **{name: getattr(contact, name) for name in _PLAIN},
            identities=[IdentityOut(kind=i.kind, value=i.value) for i in contact.identities.all()],
            company=contact.company.name if contact.company else None,
            stage=StageOut(key=contact.stage.key, name=contact.stage.name),
            owner=OwnerOut(id=contact.owner.pk, name=contact.owner.display_name) if contact.owner else None,
            tags=sorted(t.name for t in contact.tags.all()),
        )


_PLAIN = [name for name in ContactOut.model_fields if name not in {"identities", "company", "stage", "owner", "tags"}]


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactFilters(Schema):
    q: str = ""
    stage: str = ""
    source: str = ""
    campaign: str = ""
    owner: str = Field("", description="a user id, or 'none' for unassigned")
    tag: str = ""
    created_from: date | None = None
    created_to: date | None = None
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class ContactPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    job_title: str | None = None
    industry: str | None = None
    province: str | None = None
    address: str | None = None
    need: str | None = None
    preferred_contact_time: str | None = None
    owner_id: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, str | int | float | bool | None] | None = None


class NoteIn(Schema):
    body: str = Field(..., min_length=1, max_length=10000)


class StageIn(Schema):
    stage: str = Field(..., description="the key of a stage in the active stage set")
    reason: str = ""


def _contacts(request: HttpRequest) -> Any:
    return (
        visible_contacts(request.auth)  # type: ignore[attr-defined]
        .select_related("stage", "owner", "company")
        .prefetch_related("identities", "tags")
    )


def _get(request: HttpRequest, contact_id: int) -> Contact:
    return get_object_or_404(_contacts(request), pk=contact_id)


@router.get("", response=ContactPage, summary="List contacts, newest first, with cursor paging")
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]) -> ContactPage:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    params = filters.dict()
    cursor, limit = params.pop("cursor"), params.pop("limit")
    qs = ContactFilter(**params).apply(_contacts(request)).order_by("-id")
    if cursor:
        try:
            qs = qs.filter(id__lt=int(cursor))
        except ValueError as exc:
            raise HttpError(422, "cursor: not a cursor returned by this API") from exc
    page = list(qs[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return ContactPage(items=[ContactOut.build(c) for c in page], next_cursor=str(page[-1].pk) if more else None)


@router.get("/{contact_id}", response=ContactOut, summary="Get one contact (a merged one redirects, 307)")
def get_contact(request: HttpRequest, contact_id: int) -> ContactOut | HttpResponse:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    survivor = survivor_id(request.auth, contact_id)  # type: ignore[attr-defined]
    if survivor is not None:
        response = HttpResponse(status=307)
        response["Location"] = reverse("api:get_contact", kwargs={"contact_id": survivor})
        return response
    return ContactOut.build(_get(request, contact_id))


@router.patch("/{contact_id}", response=ContactOut, summary="Update a contact's fields")
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> ContactOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    contact = _get(request, contact_id)
    raw = payload.dict(exclude_unset=True)
    changes = _validated_changes(raw)
    try:
        actions.update_contact(contact, changes=changes, actor=acting_user(request), source="api")
    except IntegrityError as exc:
        field = "phone" if "phone" in changes else "email"
        raise InvalidLead([FieldError(field, "taken", "already belongs to another contact")]) from exc
    return ContactOut.build(_get(request, contact_id))


def _validated_changes(raw: dict[str, Any]) -> dict[str, Any]:
    """Run the same validation as capture on the fields being changed."""
    lead = parse_lead({k: v for k, v in raw.items() if k != "owner_id"}, require_contact_point=False)
    changes: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "owner_id":
            if value is not None and not User.objects.filter(pk=value, is_active=True).exists():
                raise InvalidLead([FieldError("owner_id", "not_found", "no active user with this id")])
            changes[name] = value
        elif name in ("email", "phone", "full_name") and not value:
            raise InvalidLead([FieldError(name, "required", "cannot be emptied")])
        else:
            changes[name] = getattr(lead, name)
    return changes


@router.post("/{contact_id}/notes", response={201: dict}, summary="Add a note to the timeline")
def add_note(request: HttpRequest, contact_id: int, payload: NoteIn) -> Status[dict[str, int]]:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    if not payload.body.strip():
        raise InvalidLead([FieldError("body", "required", "a note cannot be blank")])
    note = actions.add_note(_get(request, contact_id), body=payload.body, author=acting_user(request))
    return Status(201, {"id": note.pk})


@router.post("/{contact_id}/stage", response=ContactOut, summary="Move a contact to a lifecycle stage")
def change_stage(request: HttpRequest, contact_id: int, payload: StageIn) -> ContactOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    contact = _get(request, contact_id)
    stage = Stage.objects.filter(key=payload.stage, stage_set__is_active=True).first()
    if stage is None:
        raise InvalidLead([FieldError("stage", "unknown", "no such stage in the active stage set")])
    try:
        actions.change_stage(
            contact, to_stage=stage, cause=StageChange.Cause.API, actor=acting_user(request), reason=payload.reason
        )
    except StageError as exc:
        raise InvalidLead([FieldError(exc.field, "forbidden", exc.message)]) from None
    return ContactOut.build(_get(request, contact_id))
