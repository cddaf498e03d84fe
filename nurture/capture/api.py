from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.capture import combining
from nurture.capture.tracking import ANONYMOUS_ID, capture_and_stitch
from nurture.contacts.actions import CaptureResult
from nurture.contacts.leads import FieldError, InvalidLead, LeadInput, parse_lead
from nurture.contacts.models import Event
from nurture.lifecycle.models import StageChange

router = Router(tags=["leads"])
MAX_BATCH = 1000


class LeadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    zalo_id: str | None = None
    facebook_id: str | None = None
    anonymous_id: str | None = Field(
        None, description="the website visitor's id (nurture.anonymousId()): their page views join this contact"
    )
    gender: str | None = None
    birth_date: str | None = None
    company: str | None = None
    job_title: str | None = None
    industry: str | None = None
    province: str | None = None
    address: str | None = None
    need: str | None = None
    preferred_contact_time: str | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    referrer: str | None = None
    landing_url: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, str | int | float | bool | None] | None = None
    consents: dict[str, bool] | None = None
    occurred_at: datetime | None = None


class BatchIn(Schema):
    leads: list[LeadIn] = Field(..., min_length=1, max_length=MAX_BATCH)


class CaptureOut(Schema):
    contact_id: int
    outcome: str = Field(description="created, updated or unchanged")
    updated_fields: list[str]


class BatchOut(Schema):
    created: int
    updated: int
    unchanged: int
    results: list[CaptureOut]


def _to_lead(payload: LeadIn, loc: list[str | int]) -> LeadInput:
    data: dict[str, Any] = payload.dict(exclude_none=True)
    try:
        if data.get("anonymous_id") and not ANONYMOUS_ID.fullmatch(data["anonymous_id"]):
            raise InvalidLead([FieldError("anonymous_id", "invalid", "16 to 64 letters, digits, - or _")])
        lead = parse_lead(data)
    except InvalidLead as exc:
        exc.loc_prefix = loc  # type: ignore[attr-defined]
        raise
    lead.occurred_at = payload.occurred_at
    return lead


def _out(result: CaptureResult) -> CaptureOut:
    return CaptureOut(contact_id=result.contact_id, outcome=result.outcome, updated_fields=result.updated_fields)


def _options(request: HttpRequest) -> dict[str, Any]:
    principal = request.auth  # type: ignore[attr-defined]
    label = f"api:{principal.name}" if isinstance(principal, ApiKey) else "api"
    return {"event_type": Event.Type.API_CAPTURED, "cause": StageChange.Cause.API, "actor": acting_user(request),
            "source_label": label}  # fmt: skip


@router.post("", response={201: CaptureOut, 200: CaptureOut}, summary="Capture one lead")
def create_lead(request: HttpRequest, payload: LeadIn) -> Status[CaptureOut]:
    """Create a lead, or land on the known contact with the same phone, email or external id."""
    require_scope(request, ApiKey.Scope.LEADS_WRITE)
    result = combining.capture(_to_lead(payload, ["body"]), **_options(request))
    return Status(201 if result.created else 200, _out(result))


@router.post("/batch", response=BatchOut, summary="Capture up to 1,000 leads")
def create_leads(request: HttpRequest, payload: BatchIn) -> BatchOut:
    """All or nothing: if any lead is invalid the response names it and nothing is written."""
    require_scope(request, ApiKey.Scope.LEADS_WRITE)
    leads = [_to_lead(item, ["body", "leads", i]) for i, item in enumerate(payload.leads)]
    results = [_out(r) for r in capture_and_stitch(leads, **_options(request))]
    counts = {o: sum(1 for r in results if r.outcome == o) for o in ("created", "updated", "unchanged")}
    return BatchOut(results=results, **counts)
