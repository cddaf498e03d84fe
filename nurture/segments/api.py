"""Segments and static lists through the API: definitions, live counts, members, list membership."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.api import ContactOut, ContactPage
from nurture.contacts.conditions import ConditionError
from nurture.segments import actions
from nurture.segments.actions import SegmentError
from nurture.segments.models import Segment

router = Router(tags=["segments"])
MAX_PAGE = 200
MAX_IDS = 10_000


class SegmentIn(Schema):
    name: str
    description: str = ""
    kind: str = Field("dynamic", description="dynamic (a condition) or static (members added by hand)")
    conditions: Any = Field(default_factory=dict, description="dynamic segments: see docs/segments.md")


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    conditions: Any
    member_count: int = Field(..., description="dynamic: at the last refresh; static: live members")
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CountOut(Schema):
    count: int = Field(..., description="members now (of the contacts this key or user may see)")
    member_count: int
    refreshed_at: datetime | None


class MembersIn(Schema):
    contact_ids: list[int] = Field(..., description=f"1 to {MAX_IDS:,} contact ids")


class MembersOut(Schema):
    contact_ids: list[int] = Field(..., description="the ids added (or removed); ones already so are left out")
    member_count: int


class PageQuery(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def _invalid(field: str, code: str, message: str, *path: str | int) -> ValidationError:
    return ValidationError([{"loc": ["body", field, *path], "type": code, "msg": message}])


def _refused(exc: SegmentError) -> ValidationError:
    return _invalid(exc.field, "invalid", exc.message, *(exc.path or []))


def _segment(segment_id: int) -> Segment:
    return get_object_or_404(Segment, pk=segment_id)


@router.get("", response=list[SegmentOut], summary="List segments and static lists")
def list_segments(request: HttpRequest) -> list[Segment]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return list(Segment.objects.all())


@router.post("", response={201: SegmentOut}, summary="Create a segment; a dynamic one is refreshed in the background")
def create_segment(request: HttpRequest, payload: SegmentIn) -> Status[Segment]:
    require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    try:
        segment = actions.save_segment(None, payload.dict(), actor=acting_user(request))
    except SegmentError as exc:
        raise _refused(exc) from None
    return Status(201, segment)


@router.get("/{segment_id}", response=SegmentOut, summary="One segment")
def get_segment(request: HttpRequest, segment_id: int) -> Segment:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return _segment(segment_id)


@router.put("/{segment_id}", response=SegmentOut, summary="Replace a segment's definition (its kind stays)")
def put_segment(request: HttpRequest, segment_id: int, payload: SegmentIn) -> Segment:
    require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    try:
        return actions.save_segment(_segment(segment_id), payload.dict(), actor=acting_user(request))
    except SegmentError as exc:
        raise _refused(exc) from None


@router.delete("/{segment_id}", response={204: None}, summary="Delete a segment and its membership")
def delete_segment(request: HttpRequest, segment_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    actions.delete_segment(_segment(segment_id), actor=acting_user(request))
    return Status(204, None)


@router.get("/{segment_id}/count", response=CountOut, summary="How many contacts are members now (one query)")
def count_segment(request: HttpRequest, segment_id: int) -> CountOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    segment = _segment(segment_id)
    try:
        n = actions.count(segment, visible_contacts(request.auth))  # type: ignore[attr-defined]
    except ConditionError as exc:
        raise HttpError(409, f"conditions: {exc}") from None
    return CountOut(count=n, member_count=segment.member_count, refreshed_at=segment.refreshed_at)


@router.get("/{segment_id}/members", response=ContactPage, summary="Members now, newest first, with cursor paging")
def list_members(request: HttpRequest, segment_id: int, paging: Query[PageQuery]) -> ContactPage:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    segment = _segment(segment_id)
    try:
        qs = actions.members(segment, visible_contacts(request.auth))  # type: ignore[attr-defined]
    except ConditionError as exc:
        raise HttpError(409, f"conditions: {exc}") from None
    qs = qs.select_related("stage", "owner", "company").prefetch_related("identities", "tags").order_by("-id")
    if paging.cursor:
        try:
            qs = qs.filter(id__lt=int(paging.cursor))
        except ValueError:
            raise HttpError(422, "cursor: not a cursor returned by this API") from None
    page = list(qs[: paging.limit + 1])
    more = len(page) > paging.limit
    page = page[: paging.limit]
    return ContactPage(items=[ContactOut.build(c) for c in page], next_cursor=str(page[-1].pk) if more else None)


@router.post("/{segment_id}/members", response=MembersOut, summary="Add contacts to a static list (all or none)")
def add_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> MembersOut:
    require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    segment = _checked(request, _segment(segment_id), payload.contact_ids, removing=False)
    added = actions.add_to_list(segment, payload.contact_ids, actor=acting_user(request))
    return MembersOut(contact_ids=added, member_count=segment.member_count)


@router.delete("/{segment_id}/members", response=MembersOut, summary="Remove contacts from a static list")
def remove_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> MembersOut:
    require_scope(request, ApiKey.Scope.SEGMENTS_WRITE)
    segment = _checked(request, _segment(segment_id), payload.contact_ids, removing=True)
    removed = actions.remove_from_list(segment, payload.contact_ids, actor=acting_user(request))
    return MembersOut(contact_ids=removed, member_count=segment.member_count)


def _checked(request: HttpRequest, segment: Segment, ids: list[int], *, removing: bool) -> Segment:
    """Refuse the whole change, naming each unknown id by its index, before anything is written."""
    if segment.is_dynamic:
        raise _invalid("contact_ids", "not_static", "a dynamic segment's members follow its condition")
    if not 1 <= len(ids) <= MAX_IDS:
        raise _invalid("contact_ids", "size", f"send 1 to {MAX_IDS} contact ids")
    visible = visible_contacts(request.auth)  # type: ignore[attr-defined]
    unknown = actions.unknown_ids(ids, visible, segment=segment if removing else None)
    if unknown:
        raise ValidationError([
            {"loc": ["body", "contact_ids", i], "type": "not_found", "msg": f"no such contact: {contact_id}"}
            for i, contact_id in enumerate(ids) if contact_id in unknown
        ])  # fmt: skip
    return segment
