"""Pipelines, the board, deals (conversion, moves, won / lost), tasks and activities through the API.

Errors are 422 with the field at fault, like the rest of the API; a stale version is 409 with the deal's
current state, so a client can show it rather than write over someone else's move.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey, User
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.money import DEFAULT_CURRENCY
from nurture.sales import actions, board
from nurture.sales.access import visible_deals, visible_tasks
from nurture.sales.models import Deal, LostReason, Pipeline, PipelineStage, Task

router = Router(tags=["sales"])
PAGE_MAX = 200


def _error(field: str, message: str, code: str = "invalid", prefix: str = "body") -> InvalidLead:
    error = InvalidLead([FieldError(field, code, message)])
    error.loc_prefix = [prefix]  # type: ignore[attr-defined]
    return error


def _sales_error(exc: actions.SalesError) -> InvalidLead:
    return _error(exc.field, exc.message, exc.code)


class StageIO(Schema):
    id: int | None = Field(None, description="an existing stage's id (to keep it) or blank for a new one")
    name: str = Field(..., max_length=100)
    name_vi: str = Field("", max_length=100, description="blank: the same as name")
    probability: int = Field(0, ge=0, le=100, description="win probability in %")
    rotting_days: int | None = Field(None, ge=1, description="no activity for this many days: the deal rots")


class PipelineIn(Schema):
    name: str = Field(..., max_length=100)
    name_vi: str = Field("", max_length=100)
    require_next_step: bool = True
    is_active: bool = True
    stages: list[StageIO]


class PipelineOut(PipelineIn):
    id: int

    @staticmethod
    def build(p: Pipeline) -> PipelineOut:
        return PipelineOut(
            id=p.pk, name=p.name_en, name_vi=p.name_vi, require_next_step=p.require_next_step, is_active=p.is_active,
            stages=[StageIO(id=s.pk, name=s.name_en, name_vi=s.name_vi, probability=s.probability,
                            rotting_days=s.rotting_days) for s in p.stages.order_by("position")],
        )  # fmt: skip


class DealOut(Schema):
    id: int
    title: str
    pipeline_id: int
    stage_id: int
    stage: str
    contact_id: int
    company_id: int | None
    owner_id: int | None
    amount: int
    currency: str
    products: list[str]
    expected_close: date | None
    source: str
    medium: str
    campaign: str
    status: str
    lost_reason_id: int | None
    lost_note: str
    version: int
    stage_entered_at: datetime
    last_activity_at: datetime
    created_at: datetime
    closed_at: datetime | None

    @staticmethod
    def build(deal: Deal) -> DealOut:
        fields = {name: getattr(deal, name) for name in DealOut.model_fields if name != "stage"}
        return DealOut(stage=deal.stage.name, **fields)


class DealIn(Schema):
    contact_id: int
    pipeline_id: int
    stage_id: int | None = Field(None, description="blank: the pipeline's first stage")
    title: str = Field(..., max_length=200)
    amount: int = Field(0, ge=0, description="in minor units: đồng for VND")
    currency: str = Field(DEFAULT_CURRENCY, min_length=3, max_length=3)
    products: list[str] = Field(default_factory=list)
    expected_close: date | None = None
    owner_id: int | None = Field(None, description="blank: the contact's owner")


class ConvertIn(Schema):
    pipeline_id: int | None = Field(None, description="blank: the first pipeline")
    title: str = Field("", max_length=200, description="blank: the contact's name")
    company_name: str = Field("", max_length=200, description="created when the lead has no company")
    amount: int = Field(0, ge=0)
    currency: str = Field(DEFAULT_CURRENCY, min_length=3, max_length=3)
    products: list[str] = Field(default_factory=list)
    expected_close: date | None = None
    owner_id: int | None = None


class DealPatch(Schema):
    version: int = Field(..., description="the version you read; a deal changed since is refused with 409")
    title: str | None = Field(None, max_length=200)
    amount: int | None = Field(None, ge=0)
    currency: str | None = Field(None, min_length=3, max_length=3)
    products: list[str] | None = None
    expected_close: date | None = None
    owner_id: int | None = None


class NextStepIn(Schema):
    title: str = Field(..., max_length=200)
    due_at: datetime
    kind: str = Task.Kind.CALL
    remind_at: datetime | None = None


class MoveIn(Schema):
    stage_id: int
    version: int = Field(..., description="the version you read; a deal moved since is refused with 409")
    next_step: NextStepIn | None = Field(None, description="required when the pipeline requires a next step")


class WonIn(Schema):
    version: int
    amount: int | None = Field(None, ge=0, description="blank: the deal's amount")
    products: list[str] | None = None
    ordered_on: date | None = None


class LostIn(Schema):
    version: int
    reason_id: int
    note: str = Field("", max_length=2000)


class Conflict(Schema):
    detail: str
    deal: DealOut


class ColumnOut(Schema):
    stage_id: int
    stage: str
    probability: int
    count: int
    totals: dict[str, int]
    weighted: dict[str, int]
    deals: list[DealOut]


class TaskIn(Schema):
    title: str = Field(..., max_length=200)
    kind: str = Task.Kind.CALL
    due_at: datetime
    remind_at: datetime | None = None
    contact_id: int | None = None
    deal_id: int | None = None
    assignee_id: int | None = Field(None, description="blank: you (or the key's creator)")
    notes: str = ""


class TaskOut(Schema):
    id: int
    kind: str
    title: str
    notes: str
    due_at: datetime
    remind_at: datetime | None
    assignee_id: int
    contact_id: int
    deal_id: int | None
    done_at: datetime | None
    overdue: bool


class ActivityIn(Schema):
    kind: str = Field(..., description="call, meeting, note, email, sms, zalo or facebook")
    outcome: str = Field("", description="call: reached, no_answer, busy, wrong_number; blank: the usual one")
    body: str = Field("", max_length=5000)
    deal_id: int | None = None


class EventOut(Schema):
    id: int
    type: str
    at: datetime
    contact_id: int
    deal_id: int | None
    actor_id: int | None
    data: dict[str, Any]


class ReasonOut(Schema):
    id: int
    name: str = Field(..., description="in the request's language")
    name_en: str
    name_vi: str
    is_active: bool = Field(..., description="offered when a deal is lost")

    @staticmethod
    def build(r: LostReason) -> ReasonOut:
        return ReasonOut(id=r.pk, name=r.name, name_en=r.name_en, name_vi=r.name_vi, is_active=r.is_active)


class ReasonIn(Schema):
    id: int | None = Field(None, description="an existing reason's id (to keep it) or blank for a new one")
    name_en: str = Field(..., max_length=100)
    name_vi: str = Field("", max_length=100, description="blank: the same as name_en")
    is_active: bool = True


class ReasonsIn(Schema):
    reasons: list[ReasonIn]


def _task_out(task: Task) -> TaskOut:
    fields = {name: getattr(task, name) for name in TaskOut.model_fields if name != "overdue"}
    return TaskOut(overdue=task.is_overdue(clock.now()), **fields)


def _deal(request: HttpRequest, deal_id: int) -> Deal:
    return get_object_or_404(visible_deals(request.auth).select_related("stage", "pipeline"), pk=deal_id)  # type: ignore[attr-defined]


def _contact(request: HttpRequest, contact_id: int, field: str = "contact_id") -> Contact:
    contact = visible_contacts(request.auth).filter(pk=contact_id).first()  # type: ignore[attr-defined]
    if contact is None:
        raise _error(field, "no such contact", "not_found")
    return contact


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise _error(field, "no active user with this id", "unknown")
    return user


def _pipeline(pipeline_id: int | None) -> Pipeline:
    if pipeline_id is None:
        return Pipeline.objects.filter(is_active=True).first() or actions.install_presets()
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise _error("pipeline_id", "no such pipeline", "unknown")
    return pipeline


def _stage(stage_id: int, field: str = "stage_id") -> PipelineStage:
    stage = PipelineStage.objects.filter(pk=stage_id).first()
    if stage is None:
        raise _error(field, "no such stage", "unknown")
    return stage


def _conflict(exc: actions.StaleDeal) -> Status[Conflict]:
    return Status(409, Conflict(detail=exc.message, deal=DealOut.build(exc.deal)))


# --- pipelines ---------------------------------------------------------------------------------------------


@router.get("/pipelines", response=list[PipelineOut], summary="Pipelines with their stages")
def list_pipelines(request: HttpRequest) -> list[PipelineOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not Pipeline.objects.exists():
        actions.install_presets()
    return [PipelineOut.build(p) for p in Pipeline.objects.all()]


def _save_pipeline(pipeline: Pipeline | None, payload: PipelineIn) -> Pipeline:
    stages = [actions.StageInput(s.name, s.name_vi, s.probability, s.rotting_days, s.id) for s in payload.stages]
    try:
        return actions.save_pipeline(
            pipeline, name_en=payload.name, name_vi=payload.name_vi, stages=stages,
            require_next_step=payload.require_next_step, is_active=payload.is_active,
        )  # fmt: skip
    except actions.SalesError as exc:
        raise _sales_error(exc) from None


@router.post("/pipelines", response={201: PipelineOut}, summary="Create a pipeline (a product line, a branch)")
def create_pipeline(request: HttpRequest, payload: PipelineIn) -> Status[PipelineOut]:
    require_scope(request, ApiKey.Scope.SALES_CONFIGURE)
    return Status(201, PipelineOut.build(_save_pipeline(None, payload)))


@router.put("/pipelines/{pipeline_id}", response=PipelineOut, summary="Replace a pipeline's name and stages")
def update_pipeline(request: HttpRequest, pipeline_id: int, payload: PipelineIn) -> PipelineOut:
    require_scope(request, ApiKey.Scope.SALES_CONFIGURE)
    return PipelineOut.build(_save_pipeline(get_object_or_404(Pipeline, pk=pipeline_id), payload))


@router.get("/pipelines/{pipeline_id}/board", response=list[ColumnOut], summary="The board: per stage its totals "
            "and first cards")  # fmt: skip
def get_board(
    request: HttpRequest, pipeline_id: int, owner_id: int | None = None, team_id: int | None = None,
    close_from: date | None = None, close_to: date | None = None, cards: int = 50,
) -> list[ColumnOut]:  # fmt: skip
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not 0 <= cards <= PAGE_MAX:
        raise _error("cards", f"between 0 and {PAGE_MAX}", prefix="query")
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    filters = board.BoardFilter(owner_id=owner_id, team_id=team_id, close_from=close_from, close_to=close_to)
    columns = board.build(pipeline, filters.apply(visible_deals(request.auth)), clock.now(), cards=cards)  # type: ignore[attr-defined]
    deals = Deal.objects.select_related("stage").in_bulk([card.pk for c in columns for card in c.cards])
    return [
        ColumnOut(stage_id=c.stage.pk, stage=c.stage.name, probability=c.stage.probability, count=c.count,
                  totals=c.totals, weighted=c.weighted, deals=[DealOut.build(deals[card.pk]) for card in c.cards])
        for c in columns
    ]  # fmt: skip


@router.get("/lost-reasons", response=list[ReasonOut], summary="The lost reasons offered (all with include_inactive)")
def lost_reasons(request: HttpRequest, include_inactive: bool = False) -> list[ReasonOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    reasons = LostReason.objects.all() if include_inactive else LostReason.objects.filter(is_active=True)
    return [ReasonOut.build(r) for r in reasons]


@router.put("/lost-reasons", response=list[ReasonOut], summary="Replace the lost reasons: rename, reorder, "
            "deactivate, add; one left out is deleted unless a deal was lost for it")  # fmt: skip
def update_lost_reasons(request: HttpRequest, payload: ReasonsIn) -> list[ReasonOut]:
    require_scope(request, ApiKey.Scope.SALES_CONFIGURE)
    rows = [actions.LostReasonInput(r.name_en, r.name_vi, r.is_active, r.id) for r in payload.reasons]
    try:
        return [ReasonOut.build(r) for r in actions.save_lost_reasons(rows)]
    except actions.SalesError as exc:
        raise _sales_error(exc) from None


# --- deals -------------------------------------------------------------------------------------------------


@router.get("/deals", response=list[DealOut], summary="Deals, newest first (page with before_id)")
def list_deals(
    request: HttpRequest, pipeline_id: int | None = None, status: str | None = None, owner_id: int | None = None,
    contact_id: int | None = None, before_id: int | None = None, limit: int = 50,
) -> list[DealOut]:  # fmt: skip
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not 1 <= limit <= PAGE_MAX:
        raise _error("limit", f"between 1 and {PAGE_MAX}", prefix="query")
    if status is not None and status not in Deal.Status.values:
        raise _error("status", f"one of {', '.join(Deal.Status.values)}", prefix="query")
    deals = visible_deals(request.auth).select_related("stage")  # type: ignore[attr-defined]
    for name, value in (("pipeline_id", pipeline_id), ("status", status), ("owner_id", owner_id),
                        ("contact_id", contact_id)):  # fmt: skip
        if value is not None:
            deals = deals.filter(**{name: value})
    if before_id is not None:
        deals = deals.filter(pk__lt=before_id)
    return [DealOut.build(d) for d in deals.order_by("-id")[:limit]]


@router.post("/deals", response={201: DealOut}, summary="Create a deal for a contact")
def create_deal(request: HttpRequest, payload: DealIn) -> Status[DealOut]:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    contact = _contact(request, payload.contact_id)
    pipeline = _pipeline(payload.pipeline_id)
    stage = _stage(payload.stage_id) if payload.stage_id is not None else None
    try:
        deal = actions.create_deal(
            contact, pipeline=pipeline, stage=stage, title=payload.title, amount=payload.amount,
            currency=payload.currency, products=payload.products, expected_close=payload.expected_close,
            owner=_user(payload.owner_id, "owner_id"), actor=acting_user(request),
        )  # fmt: skip
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return Status(201, DealOut.build(deal))


@router.post("/contacts/{contact_id}/convert", response={201: DealOut}, summary="Convert a qualified lead: the "
             "deal (and company) in one step, the lead to SQO")  # fmt: skip
def convert(request: HttpRequest, contact_id: int, payload: ConvertIn) -> Status[DealOut]:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    try:
        deal = actions.convert_lead(
            contact, pipeline=_pipeline(payload.pipeline_id), title=payload.title, company_name=payload.company_name,
            amount=payload.amount, currency=payload.currency, products=payload.products,
            expected_close=payload.expected_close, owner=_user(payload.owner_id, "owner_id"),
            actor=acting_user(request),
        )  # fmt: skip
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return Status(201, DealOut.build(deal))


@router.get("/deals/{deal_id}", response=DealOut, summary="One deal")
def get_deal(request: HttpRequest, deal_id: int) -> DealOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return DealOut.build(_deal(request, deal_id))


@router.patch("/deals/{deal_id}", response={200: DealOut, 409: Conflict}, summary="Change a deal's fields")
def patch_deal(request: HttpRequest, deal_id: int, payload: DealPatch) -> Any:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    deal = _deal(request, deal_id)
    changes = payload.dict(exclude_unset=True, exclude={"version", "owner_id"})
    if "owner_id" in payload.model_fields_set:
        changes["owner"] = _user(payload.owner_id, "owner_id")
    try:
        return DealOut.build(actions.update_deal(deal, version=payload.version, changes=changes,
                                                 actor=acting_user(request)))  # fmt: skip
    except actions.StaleDeal as exc:
        return _conflict(exc)
    except actions.SalesError as exc:
        raise _sales_error(exc) from None


@router.post("/deals/{deal_id}/move", response={200: DealOut, 409: Conflict}, summary="Move a deal to a stage of "
             "its pipeline, with its next step")  # fmt: skip
def move(request: HttpRequest, deal_id: int, payload: MoveIn) -> Any:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    deal = _deal(request, deal_id)
    step = payload.next_step
    next_step = actions.NextStep(step.title, step.due_at, step.kind, step.remind_at) if step else None
    try:
        moved = actions.move_deal(deal, stage=_stage(payload.stage_id), version=payload.version,
                                  actor=acting_user(request), next_step=next_step)  # fmt: skip
    except actions.StaleDeal as exc:
        return _conflict(exc)
    except actions.SalesError as exc:
        field = exc.field if exc.field in ("stage_id", "version", "next_step") else f"next_step.{exc.field}"
        raise _error(field, exc.message, exc.code) from None
    return DealOut.build(Deal.objects.select_related("stage").get(pk=moved.pk))


@router.post("/deals/{deal_id}/won", response={200: DealOut, 409: Conflict}, summary="Won: records the order, the "
             "contact becomes a customer")  # fmt: skip
def won(request: HttpRequest, deal_id: int, payload: WonIn) -> Any:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    deal = _deal(request, deal_id)
    try:
        closed, _order = actions.mark_won(deal, version=payload.version, actor=acting_user(request),
                                          amount=payload.amount, products=payload.products,
                                          ordered_on=payload.ordered_on)  # fmt: skip
    except actions.StaleDeal as exc:
        return _conflict(exc)
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return DealOut.build(closed)


@router.post("/deals/{deal_id}/lost", response={200: DealOut, 409: Conflict}, summary="Lost, with its reason")
def lost(request: HttpRequest, deal_id: int, payload: LostIn) -> Any:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    deal = _deal(request, deal_id)
    reason = LostReason.objects.filter(pk=payload.reason_id).first()
    if reason is None:
        raise _error("reason_id", "no such lost reason", "unknown")
    try:
        closed = actions.mark_lost(deal, version=payload.version, reason=reason, note=payload.note,
                                   actor=acting_user(request))  # fmt: skip
    except actions.StaleDeal as exc:
        return _conflict(exc)
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return DealOut.build(closed)


@router.get("/deals/{deal_id}/timeline", response=list[EventOut], summary="The deal's activities, newest first")
def deal_timeline(request: HttpRequest, deal_id: int, before_id: int | None = None, limit: int = 50) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not 1 <= limit <= PAGE_MAX:
        raise _error("limit", f"between 1 and {PAGE_MAX}", prefix="query")
    events = Event.objects.filter(deal=_deal(request, deal_id))
    if before_id is not None:
        events = events.filter(pk__lt=before_id)
    return list(events.order_by("-at", "-id")[:limit])


# --- tasks and activities ----------------------------------------------------------------------------------


@router.get("/tasks", response=list[TaskOut], summary="Open tasks (yours by default), by due time")
def list_tasks(
    request: HttpRequest, assignee_id: int | None = None, deal_id: int | None = None, overdue: bool = False,
    done: bool = False, limit: int = 100,
) -> list[TaskOut]:  # fmt: skip
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    if not 1 <= limit <= PAGE_MAX:
        raise _error("limit", f"between 1 and {PAGE_MAX}", prefix="query")
    tasks = visible_tasks(request.auth).filter(done_at__isnull=not done)  # type: ignore[attr-defined]
    who = assignee_id if assignee_id is not None else (request.auth.pk if isinstance(request.auth, User) else None)  # type: ignore[attr-defined]
    if who is not None and deal_id is None:
        tasks = tasks.filter(assignee_id=who)
    if deal_id is not None:
        tasks = tasks.filter(deal_id=deal_id)
    if overdue:
        tasks = tasks.filter(due_at__lt=clock.now())
    return [_task_out(t) for t in tasks.order_by("due_at", "id")[:limit]]


@router.post("/tasks", response={201: TaskOut}, summary="A task (call, email, meeting, to-do) with a reminder")
def create_task(request: HttpRequest, payload: TaskIn) -> Status[TaskOut]:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    deal = _deal(request, payload.deal_id) if payload.deal_id is not None else None
    contact = _contact(request, payload.contact_id) if payload.contact_id is not None else None
    assignee = _user(payload.assignee_id, "assignee_id") or acting_user(request)
    try:
        task = actions.add_task(title=payload.title, kind=payload.kind, due_at=payload.due_at,
                                remind_at=payload.remind_at, assignee=assignee, contact=contact, deal=deal,
                                notes=payload.notes, actor=acting_user(request))  # fmt: skip
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return Status(201, _task_out(task))


@router.post("/tasks/{task_id}/done", response=TaskOut, summary="Mark a task done")
def task_done(request: HttpRequest, task_id: int) -> TaskOut:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    task = get_object_or_404(visible_tasks(request.auth), pk=task_id)  # type: ignore[attr-defined]
    return _task_out(actions.complete_task(task, actor=acting_user(request)))


@router.post("/contacts/{contact_id}/sales-activities", response={201: EventOut}, summary="Log a call, meeting, "
             "note, email, SMS, Zalo or Facebook message (on a deal too)")  # fmt: skip
def log_activity(request: HttpRequest, contact_id: int, payload: ActivityIn) -> Status[Event]:
    require_scope(request, ApiKey.Scope.SALES_WRITE)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    deal = _deal(request, payload.deal_id) if payload.deal_id is not None else None
    try:
        event = actions.log_activity(contact, kind=payload.kind, outcome=payload.outcome, body=payload.body,
                                     deal=deal, actor=acting_user(request))  # fmt: skip
    except actions.SalesError as exc:
        raise _sales_error(exc) from None
    return Status(201, event)
