"""Journeys through the API: definitions, publishing, pause/resume, enrolling, enrolments, per-step counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.journeys import actions, library, reports
from nurture.journeys.actions import JourneyError
from nurture.journeys.models import Enrolment, Journey, JourneyVersion
from nurture.segments.models import Segment

router = Router(tags=["journeys"])


def _invalid(exc: JourneyError) -> InvalidLead:
    """A refused change as a 422 naming each field; a graph problem is located at graph.steps.<step>.<field>."""
    errors = [FieldError(f"graph.steps.{p.step}.{p.field}" if p.step else f"graph.{p.field}", "invalid", p.message)
              for p in exc.problems] or [FieldError(exc.field, "invalid", exc.message)]  # fmt: skip
    return InvalidLead(errors)


class JourneyIn(Schema):
    name: str
    description: str = ""
    trigger: dict[str, Any] = Field(default_factory=dict, description="see docs/journeys.md; {} means manual only")
    reenrol: str = Field("never", description="never, always or after_days")
    reenrol_days: int | None = Field(None, ge=1)
    quiet_hours: bool = True
    goal: dict[str, Any] = Field(default_factory=dict, description="a contact condition; {} for none")
    exit_on_unsubscribe: bool = True
    graph: dict[str, Any] = Field(default_factory=lambda: {"order": [], "steps": {}}, description="the draft graph")


class JourneyOut(JourneyIn):
    id: int
    status: str
    live_version: int | None = Field(None, description="the number of the version new enrolments take")
    unpublished_changes: bool
    template_key: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def build(journey: Journey) -> JourneyOut:
        return JourneyOut(
            id=journey.pk, name=journey.name, description=journey.description, trigger=journey.trigger,
            reenrol=journey.reenrol, reenrol_days=journey.reenrol_days, quiet_hours=journey.quiet_hours,
            goal=journey.goal, exit_on_unsubscribe=journey.exit_on_unsubscribe, graph=journey.graph,
            status=journey.status, live_version=journey.live_version.number if journey.live_version else None,
            unpublished_changes=journey.has_unpublished_changes, template_key=journey.template_key,
            created_at=journey.created_at, updated_at=journey.updated_at,
        )  # fmt: skip


class VersionOut(Schema):
    id: int
    number: int
    graph: dict[str, Any]
    created_at: datetime


class EnrolIn(Schema):
    contact_ids: list[int] = Field(default_factory=list, description=f"1 to {actions.MAX_BULK:,} contact ids")
    segment_id: int | None = Field(None, description="or every member of a segment or list")


class EnrolOut(Schema):
    enrolled: list[int] = Field(
        ...,
        description="contact ids enrolled; the others were skipped (already on it, "
        "the re-enrolment rule, goal already met)",
    )


class MoveIn(Schema):
    from_version: int
    to_version: int
    step_map: dict[str, str] = Field(..., description="old step id -> new step id, for every step someone is on")


class EnrolmentOut(Schema):
    id: int
    journey_id: int
    journey: str
    version: int
    status: str
    step: str
    next_due_at: datetime | None
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str

    @staticmethod
    def build(e: Enrolment) -> EnrolmentOut:
        return EnrolmentOut(id=e.pk, journey_id=e.journey_id, journey=e.journey.name, version=e.version.number,
                            status=e.status, step=e.step, next_due_at=e.next_due_at, entered_at=e.entered_at,
                            finished_at=e.finished_at, exit_reason=e.exit_reason)  # fmt: skip


class StepCountOut(Schema):
    step: str
    type: str
    entered: int
    waiting: int
    completed: int
    converted: int
    dropped: int


class ReadyOut(Schema):
    key: str
    name: str
    description: str
    trigger: dict[str, Any]


def _journeys() -> Any:
    return Journey.objects.select_related("live_version")


def _save(journey: Journey | None, payload: JourneyIn, request: HttpRequest) -> Journey:
    try:
        return actions.save_journey(journey, payload.dict(), actor=acting_user(request))
    except JourneyError as exc:
        raise _invalid(exc) from None


@router.get("", response=list[JourneyOut], summary="Journeys")
def list_journeys(request: HttpRequest) -> list[JourneyOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [JourneyOut.build(j) for j in _journeys()]


@router.post("", response={201: JourneyOut}, summary="Create a journey (a draft)")
def create_journey(request: HttpRequest, payload: JourneyIn) -> Status[JourneyOut]:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    return Status(201, JourneyOut.build(_save(None, payload, request)))


@router.get("/templates", response=list[ReadyOut], summary="Ready-made journeys from the seeds")
def ready_made(request: HttpRequest) -> list[ReadyOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [ReadyOut(key=r.key, name=r.name, description=str(r.description), trigger=r.trigger) for r in library.READY]


@router.post("/templates/{key}/install", response={201: JourneyOut}, summary="Install a ready-made journey as a draft")
def install(request: HttpRequest, key: str) -> Status[JourneyOut]:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    if key not in library.BY_KEY:
        raise InvalidLead([FieldError("key", "unknown", f"one of {', '.join(library.BY_KEY)}")])
    return Status(201, JourneyOut.build(library.install(key, actor=acting_user(request))))


@router.get("/contacts/{contact_id}/enrolments", response=list[EnrolmentOut], summary="A contact's journeys")
def contact_enrolments(request: HttpRequest, contact_id: int) -> list[EnrolmentOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    rows = Enrolment.objects.filter(contact=contact).select_related("journey", "version")
    return [EnrolmentOut.build(e) for e in rows]


@router.get("/{journey_id}", response=JourneyOut, summary="A journey with its draft graph")
def get_journey(request: HttpRequest, journey_id: int) -> JourneyOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return JourneyOut.build(get_object_or_404(_journeys(), pk=journey_id))


@router.put("/{journey_id}", response=JourneyOut, summary="Change a journey (its graph is the draft)")
def update_journey(request: HttpRequest, journey_id: int, payload: JourneyIn) -> JourneyOut:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    return JourneyOut.build(_save(get_object_or_404(_journeys(), pk=journey_id), payload, request))


@router.delete("/{journey_id}", response={204: None}, summary="Delete a journey nobody went through")
def delete_journey(request: HttpRequest, journey_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    try:
        actions.delete_journey(get_object_or_404(Journey, pk=journey_id))
    except JourneyError as exc:
        raise _invalid(exc) from None
    return Status(204, None)


@router.post("/{journey_id}/publish", response={201: VersionOut}, summary="Publish the draft as a new version")
def publish(request: HttpRequest, journey_id: int) -> Status[VersionOut]:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    try:
        version = actions.publish(get_object_or_404(Journey, pk=journey_id), actor=acting_user(request))
    except JourneyError as exc:
        raise _invalid(exc) from None
    return Status(201, VersionOut.from_orm(version))


def _status(request: HttpRequest, journey_id: int, status: str) -> JourneyOut:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    journey = get_object_or_404(_journeys(), pk=journey_id)
    try:
        actions.set_status(journey, status, actor=acting_user(request))
    except JourneyError as exc:
        raise _invalid(exc) from None
    return JourneyOut.build(journey)


@router.post("/{journey_id}/pause", response=JourneyOut, summary="Pause: enrolments stop where they are")
def pause(request: HttpRequest, journey_id: int) -> JourneyOut:
    return _status(request, journey_id, Journey.Status.PAUSED)


@router.post("/{journey_id}/resume", response=JourneyOut, summary="Resume a paused journey")
def resume(request: HttpRequest, journey_id: int) -> JourneyOut:
    return _status(request, journey_id, Journey.Status.LIVE)


@router.post("/{journey_id}/archive", response=JourneyOut, summary="Archive: everyone on it exits")
def archive(request: HttpRequest, journey_id: int) -> JourneyOut:
    return _status(request, journey_id, Journey.Status.ARCHIVED)


@router.post("/{journey_id}/enrol", response=EnrolOut, summary="Enrol 1 to 1,000 contacts, or a segment")
def enrol(request: HttpRequest, journey_id: int, payload: EnrolIn) -> EnrolOut:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    journey = get_object_or_404(_journeys(), pk=journey_id)
    try:
        if payload.segment_id is not None:
            segment = Segment.objects.filter(pk=payload.segment_id).first()
            if segment is None:
                raise InvalidLead([FieldError("segment_id", "not_found", "no such segment")])
            made = actions.enrol_segment(journey, segment)
        else:
            if not 1 <= len(payload.contact_ids) <= actions.MAX_BULK:
                raise InvalidLead([FieldError("contact_ids", "invalid", f"1 to {actions.MAX_BULK} contact ids")])
            visible = set(visible_contacts(request.auth).filter(pk__in=payload.contact_ids)  # type: ignore[attr-defined]
                          .values_list("pk", flat=True))  # fmt: skip
            for i, contact_id in enumerate(payload.contact_ids):
                if contact_id not in visible:
                    raise InvalidLead([FieldError(f"contact_ids.{i}", "not_found", "no such contact")])
            made = actions.enrol(journey, payload.contact_ids, source="api")
    except JourneyError as exc:
        raise _invalid(exc) from None
    return EnrolOut(enrolled=[e.contact_id for e in made])


@router.post("/{journey_id}/move", response=dict, summary="Move open enrolments from one version to another")
def move(request: HttpRequest, journey_id: int, payload: MoveIn) -> dict[str, int]:
    require_scope(request, ApiKey.Scope.JOURNEYS_WRITE)
    journey = get_object_or_404(Journey, pk=journey_id)
    versions = {v.number: v for v in JourneyVersion.objects.filter(journey=journey)}
    for name in ("from_version", "to_version"):
        if getattr(payload, name) not in versions:
            raise InvalidLead([FieldError(name, "not_found", "no such version of this journey")])
    try:
        moved = actions.move_enrolments(journey, versions[payload.from_version], versions[payload.to_version],
                                        payload.step_map)  # fmt: skip
    except JourneyError as exc:
        raise _invalid(exc) from None
    return {"moved": moved}


@router.get("/{journey_id}/steps", response=list[StepCountOut], summary="Per-step counters")
def steps(request: HttpRequest, journey_id: int) -> list[dict[str, Any]]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    journey = get_object_or_404(Journey, pk=journey_id)
    return [c.as_dict() for c in reports.counts([journey])[journey.pk].ordered(journey.graph)]
