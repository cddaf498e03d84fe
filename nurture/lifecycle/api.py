"""Stage sets, transition rules, checklists, and time-in-stage / conversion figures through the API."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Body, Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.core import clock
from nurture.lifecycle import actions, reports
from nurture.lifecycle.actions import StageError
from nurture.lifecycle.checklists import ITEMS
from nurture.lifecycle.models import ChecklistItem, Stage, StageSet, TransitionRule

router = Router(tags=["lifecycle"])


class StageOut(Schema):
    key: str
    name_en: str
    name_vi: str
    position: int
    outcome: str
    requires: list[str]
    returns_to: list[str]

    @staticmethod
    def build(stage: Stage) -> StageOut:
        return StageOut(
            key=stage.key, name_en=stage.name_en, name_vi=stage.name_vi, position=stage.position,
            outcome=stage.outcome, requires=stage.requires, returns_to=[s.key for s in stage.returns_to.all()],
        )  # fmt: skip


class StageSetOut(Schema):
    id: int
    key: str
    name_en: str
    name_vi: str
    is_active: bool
    backward: str
    stages: list[StageOut]

    @staticmethod
    def build(stage_set: StageSet) -> StageSetOut:
        stages = stage_set.stages.order_by("position").prefetch_related("returns_to")
        return StageSetOut(
            id=stage_set.pk, key=stage_set.key, name_en=stage_set.name_en, name_vi=stage_set.name_vi,
            is_active=stage_set.is_active, backward=stage_set.backward, stages=[StageOut.build(s) for s in stages],
        )  # fmt: skip


class ActivateIn(Schema):
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="old stage key → new stage key; stages left out go where the default mapping sends them",
    )


class ActivateOut(Schema):
    moved: int
    stage_set: StageSetOut


class RuleIn(Schema):
    name: str
    conditions: Any = Field(..., description="see docs/lifecycle.md for the condition language")
    to_stage: str = Field(..., description="key of a stage of the active set")
    from_stages: list[str] = Field(default_factory=list, description="empty: any earlier stage")
    priority: int = Field(100, ge=0, le=32000)
    is_active: bool = True


class RuleOut(Schema):
    id: int
    name: str
    conditions: Any
    to_stage: str
    from_stages: list[str]
    priority: int
    is_active: bool

    @staticmethod
    def build(rule: TransitionRule) -> RuleOut:
        return RuleOut(
            id=rule.pk, name=rule.name, conditions=rule.conditions, to_stage=rule.to_stage.key,
            from_stages=[s.key for s in rule.from_stages.all()], priority=rule.priority, is_active=rule.is_active,
        )  # fmt: skip


class ChecklistItemIO(Schema):
    value: str = ""
    confirmed: bool = False


class ChecklistItemOut(ChecklistItemIO):
    item: str
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


class StageRowOut(Schema):
    stage: str
    in_stage_now: int
    entered: int
    moved_on: int
    conversion: float | None
    left: int
    avg_days_in_stage: float | None


class ConversionOut(Schema):
    from_stage: str
    to_stage: str
    entered: int
    converted: int
    rate: float | None


def _error(field: str, message: str, prefix: str = "body", code: str = "invalid") -> InvalidLead:
    error = InvalidLead([FieldError(field, code, message)])
    error.loc_prefix = [prefix]  # type: ignore[attr-defined]
    return error


def _invalid(exc: StageError) -> InvalidLead:
    return _error(exc.field, exc.message)


def _active() -> StageSet:
    return StageSet.objects.get(is_active=True)


def _stage(stage_set: StageSet, key: str, field: str, prefix: str = "body") -> Stage:
    stage = stage_set.stages.filter(key=key).first()
    if stage is None:
        raise _error(field, f"no stage {key!r} in {stage_set.key}", prefix=prefix, code="unknown")
    return stage


@router.get("/lifecycle/stage-sets", response=list[StageSetOut], summary="Stage sets and their stages")
def list_sets(request: HttpRequest) -> list[StageSetOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [StageSetOut.build(s) for s in StageSet.objects.order_by("-is_active", "pk")]


@router.post("/lifecycle/stage-sets/{set_key}/activate", response=ActivateOut, summary="Switch the active stage set")
def activate(request: HttpRequest, set_key: str, payload: ActivateIn) -> ActivateOut:
    require_scope(request, ApiKey.Scope.LIFECYCLE_WRITE)
    new = get_object_or_404(StageSet, key=set_key)
    old = _active()
    mapping = actions.default_mapping(old, new) if old.pk != new.pk else {}
    for old_key, new_key in payload.mapping.items():
        mapping[_stage(old, old_key, f"mapping.{old_key}").pk] = _stage(new, new_key, f"mapping.{old_key}").pk
    try:
        moved = actions.activate_set(new, mapping, actor=acting_user(request))
    except StageError as exc:
        raise _invalid(exc) from None
    new.refresh_from_db()
    return ActivateOut(moved=moved, stage_set=StageSetOut.build(new))


def _rule_data(payload: RuleIn) -> dict[str, Any]:
    active = _active()
    data = payload.dict()
    data["to_stage"] = _stage(active, payload.to_stage, "to_stage")
    data["from_stages"] = [_stage(active, k, f"from_stages.{i}") for i, k in enumerate(payload.from_stages)]
    return data


@router.get("/lifecycle/rules", response=list[RuleOut], summary="Transition rules of the active stage set")
def list_rules(request: HttpRequest) -> list[RuleOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    rules = _active().rules.select_related("to_stage").prefetch_related("from_stages")
    return [RuleOut.build(r) for r in rules]


@router.post(
    "/lifecycle/rules", response={201: RuleOut}, summary="Create a rule; it is applied to everyone in the background"
)
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[RuleOut]:
    require_scope(request, ApiKey.Scope.LIFECYCLE_WRITE)
    try:
        rule = actions.save_rule(None, _rule_data(payload))
    except StageError as exc:
        raise _invalid(exc) from None
    return Status(201, RuleOut.build(rule))


@router.put("/lifecycle/rules/{rule_id}", response=RuleOut, summary="Replace a rule")
def update_rule(request: HttpRequest, rule_id: int, payload: RuleIn) -> RuleOut:
    require_scope(request, ApiKey.Scope.LIFECYCLE_WRITE)
    rule = get_object_or_404(TransitionRule, pk=rule_id)
    try:
        rule = actions.save_rule(rule, _rule_data(payload))
    except StageError as exc:
        raise _invalid(exc) from None
    return RuleOut.build(rule)


@router.delete("/lifecycle/rules/{rule_id}", response={204: None}, summary="Delete a rule")
def delete_rule(request: HttpRequest, rule_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.LIFECYCLE_WRITE)
    actions.delete_rule(get_object_or_404(TransitionRule, pk=rule_id))
    return Status(204, None)


def _period(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    from django.utils.dateparse import parse_date

    today = timezone.localdate(clock.now())
    days = {}
    for name, text, default in (("since", since, today - timedelta(days=90)), ("until", until, today)):
        day = parse_date(text) if text else default
        if day is None:
            raise _error(name, "expected a date YYYY-MM-DD", prefix="query")
        days[name] = day
    return (
        timezone.make_aware(datetime.combine(days["since"], time.min)),
        timezone.make_aware(datetime.combine(days["until"] + timedelta(days=1), time.min)),
    )


@router.get(
    "/lifecycle/report", response=list[StageRowOut], summary="Per stage: in it now, entered, moved on, days in stage"
)
def report(request: HttpRequest, since: str | None = None, until: str | None = None) -> list[StageRowOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    start, end = _period(since, until)
    return [
        StageRowOut(
            stage=r.stage.key,
            in_stage_now=r.now,
            entered=r.entered,
            moved_on=r.moved_on,
            conversion=r.conversion,
            left=r.left,
            avg_days_in_stage=r.avg_days,
        )  # fmt: skip
        for r in reports.stage_report(_active(), start, end)
    ]


@router.get(
    "/lifecycle/conversion", response=ConversionOut, summary="Of those who entered one stage, how many reached another"
)
def conversion(
    request: HttpRequest, from_stage: str, to_stage: str, since: str | None = None, until: str | None = None
) -> ConversionOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    active = _active()
    start, end = _period(since, until)
    start_stage = _stage(active, from_stage, "from_stage", prefix="query")
    end_stage = _stage(active, to_stage, "to_stage", prefix="query")
    result = reports.conversion(start_stage, end_stage, start, end)
    return ConversionOut(
        from_stage=from_stage, to_stage=to_stage, entered=result.entered, converted=result.converted,
        rate=result.rate,
    )  # fmt: skip


def _checklist(contact_id: int) -> list[ChecklistItemOut]:
    rows = {r.item: r for r in ChecklistItem.objects.filter(contact_id=contact_id).select_related("confirmed_by")}
    out = []
    for item in ITEMS:
        row = rows.get(item)
        out.append(ChecklistItemOut(
            item=item, value=row.value if row else "", confirmed=bool(row and row.confirmed),
            confirmed_by=row.confirmed_by.username if row and row.confirmed_by else None,
            confirmed_at=row.confirmed_at if row else None,
        ))  # fmt: skip
    return out


@router.get("/contacts/{contact_id}/checklist", response=list[ChecklistItemOut], summary="BANT / CHAMP items")
def get_checklist(request: HttpRequest, contact_id: int) -> list[ChecklistItemOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    return _checklist(contact.pk)


@router.patch(
    "/contacts/{contact_id}/checklist", response=list[ChecklistItemOut], summary="Set or confirm checklist items"
)
def patch_checklist(request: HttpRequest, contact_id: int, payload: Body[dict[str, ChecklistItemIO]]) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    try:
        actions.set_checklist(
            contact, {k: (v.value.strip(), v.confirmed) for k, v in payload.items()}, actor=acting_user(request)
        )
    except StageError as exc:
        raise _invalid(exc) from None
    return _checklist(contact.pk)
