"""Possible duplicates, merges and unmerges through the API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.contacts.models import Contact
from nurture.identity import actions
from nurture.identity.actions import CHOOSABLE, MergeError
from nurture.identity.models import DuplicatePair, Merge

router = Router(tags=["duplicates"])
MAX_PAGE = 200
Side = Literal["survivor", "merged"]


class ContactBrief(Schema):
    id: int
    full_name: str
    phone: str
    email: str


class ReasonOut(Schema):
    field: str
    level: str
    points: float


class PairOut(Schema):
    id: int
    score: float
    status: str
    found_by: str
    reasons: list[ReasonOut]
    contact_a: ContactBrief
    contact_b: ContactBrief
    created_at: datetime
    skipped_at: datetime | None

    @staticmethod
    def build(pair: DuplicatePair) -> PairOut:
        return PairOut(
            id=pair.pk, score=pair.score, status=pair.status, found_by=pair.found_by,
            reasons=[ReasonOut(**r) for r in pair.reasons], contact_a=_brief(pair.contact_a),
            contact_b=_brief(pair.contact_b), created_at=pair.created_at, skipped_at=pair.skipped_at,
        )  # fmt: skip


class PairPage(Schema):
    items: list[PairOut]
    next_cursor: str | None


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_id: int
    score: float | None
    at: datetime
    changed: dict[str, list[Any]]
    moved: dict[str, int] = Field(..., description="rows moved to the survivor, per model")
    undone_at: datetime | None

    @staticmethod
    def build(merge: Merge) -> MergeOut:
        return MergeOut(
            id=merge.pk, survivor_id=merge.survivor_id, merged_id=merge.merged_id, score=merge.score, at=merge.at,
            changed=merge.changed, moved={k: len(v) for k, v in merge.moved.items()}, undone_at=merge.undone_at,
        )  # fmt: skip


class PairMergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    survivor_id: int | None = Field(None, description="which contact survives; the older one by default")
    choices: dict[str, Side] = Field(default_factory=dict, description="field -> the side whose value to keep")


class ContactMergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(..., description="the contact merged into this one, which becomes a tombstone")
    choices: dict[str, Side] = Field(default_factory=dict)


class PairFilters(Schema):
    status: DuplicatePair.Status = DuplicatePair.Status.OPEN
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def _brief(contact: Contact) -> ContactBrief:
    return ContactBrief(id=contact.pk, full_name=contact.full_name, phone=contact.phone, email=contact.email)


def _check_choices(choices: Mapping[str, str]) -> None:
    unknown = sorted(set(choices) - set(CHOOSABLE))
    if unknown:
        raise InvalidLead(
            [FieldError(f"choices.{name}", "unknown", "not a field that can be chosen") for name in unknown]
        )


def _pairs(request: HttpRequest) -> Any:
    visible = visible_contacts(request.auth).values("pk")  # type: ignore[attr-defined]
    return DuplicatePair.objects.filter(contact_a__in=visible, contact_b__in=visible).select_related(
        "contact_a", "contact_b"
    )


def _pair(request: HttpRequest, pair_id: int) -> DuplicatePair:
    return get_object_or_404(_pairs(request), pk=pair_id)


def _conflict(exc: MergeError) -> HttpError:
    return HttpError(409, str(exc))


@router.get("/duplicates", response=PairPage, summary="Possible duplicates, the review queue order")
def list_pairs(request: HttpRequest, filters: Query[PairFilters]) -> PairPage:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if filters.status == DuplicatePair.Status.OPEN:
        qs = actions.open_pairs().filter(pk__in=_pairs(request).values("pk")).select_related("contact_a", "contact_b")
    else:
        qs = _pairs(request).filter(status=filters.status).order_by("-decided_at", "-pk")
    offset = int(filters.cursor) if filters.cursor and filters.cursor.isdigit() else 0
    page = list(qs[offset : offset + filters.limit + 1])
    more = len(page) > filters.limit
    return PairPage(
        items=[PairOut.build(p) for p in page[: filters.limit]],
        next_cursor=str(offset + filters.limit) if more else None,
    )


@router.post("/duplicates/{pair_id}/merge", response=MergeOut, summary="Merge a possible duplicate")
def merge_pair(request: HttpRequest, pair_id: int, payload: PairMergeIn) -> MergeOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    _check_choices(payload.choices)
    pair = _pair(request, pair_id)
    try:
        merge = actions.merge_pair(
            pair, actor=acting_user(request), survivor_id=payload.survivor_id, choices=payload.choices
        )
    except MergeError as exc:
        raise _conflict(exc) from exc
    return MergeOut.build(merge)


@router.post("/duplicates/{pair_id}/not-same", response=PairOut, summary="Not the same person: never proposed again")
def not_same(request: HttpRequest, pair_id: int) -> PairOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    pair = _pair(request, pair_id)
    try:
        actions.mark_not_same(pair, actor=acting_user(request))
    except MergeError as exc:
        raise _conflict(exc) from exc
    return PairOut.build(_pair(request, pair_id))


@router.post("/duplicates/{pair_id}/skip", response=PairOut, summary="Decide later: to the end of the queue")
def skip(request: HttpRequest, pair_id: int) -> PairOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    actions.skip(_pair(request, pair_id))
    return PairOut.build(_pair(request, pair_id))


@router.post("/contacts/{contact_id}/merge", response=MergeOut, summary="Merge another contact into this one")
def merge_into(request: HttpRequest, contact_id: int, payload: ContactMergeIn) -> MergeOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    _check_choices(payload.choices)
    principal = request.auth  # type: ignore[attr-defined]
    survivor = get_object_or_404(visible_contacts(principal), pk=contact_id)
    other = Contact.objects.filter(pk=payload.other_id).first()
    if other is None or not (other.merged_into_id or visible_contacts(principal).filter(pk=other.pk).exists()):
        raise InvalidLead([FieldError("other_id", "not_found", "no such contact")])
    try:
        merge = actions.merge_contacts(survivor, other, actor=acting_user(request), choices=payload.choices)
    except MergeError as exc:
        raise _conflict(exc) from exc
    return MergeOut.build(merge)


@router.get("/contacts/{contact_id}/merges", response=list[MergeOut], summary="The merges into this contact")
def merges_of(request: HttpRequest, contact_id: int) -> list[MergeOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    return [MergeOut.build(m) for m in contact.merges.all()]


@router.post("/merges/{merge_id}/undo", response=MergeOut, summary="Undo a merge (unmerge)")
def undo(request: HttpRequest, merge_id: int) -> MergeOut:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    visible = visible_contacts(request.auth).values("pk")  # type: ignore[attr-defined]
    merge = get_object_or_404(Merge.objects.filter(survivor__in=visible), pk=merge_id)
    try:
        actions.unmerge(merge, actor=acting_user(request))
    except MergeError as exc:
        raise _conflict(exc) from exc
    merge.refresh_from_db()
    return MergeOut.build(merge)
