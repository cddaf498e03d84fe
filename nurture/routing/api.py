"""Assignment rules, SLA policies, (re)assignment, activities and response figures through the API."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date
from ninja import Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey, Team, User
from nurture.contacts.access import visible_contacts
from nurture.contacts.actions import OUTCOMES_OF, log_activity
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.core import clock
from nurture.lifecycle.models import Stage
from nurture.routing import actions, reports
from nurture.routing.models import Assignment, AssignmentRule, SlaPolicy

router = Router(tags=["routing"])
MAX_BULK = 1000


def _error(field: str, message: str, code: str = "invalid", prefix: str = "body") -> InvalidLead:
    error = InvalidLead([FieldError(field, code, message)])
    error.loc_prefix = [prefix]  # type: ignore[attr-defined]
    return error


class MemberIO(Schema):
    user_id: int
    weight: int = Field(1, ge=1, le=1000)


class RuleIn(Schema):
    name: str
    priority: int = Field(100, ge=0, le=32000)
    conditions: Any = Field(default_factory=dict, description="blank: every lead; see docs/routing.md")
    on_stage: str | None = Field(None, description="a stage key: the rule (re)assigns contacts entering it")
    team_id: int | None = None
    members: list[MemberIO] = Field(default_factory=list, description="in rotation order")
    strategy: str = "round_robin"
    is_active: bool = True


class RuleOut(RuleIn):
    id: int

    @staticmethod
    def build(rule: AssignmentRule) -> RuleOut:
        return RuleOut(
            id=rule.pk, name=rule.name, priority=rule.priority, conditions=rule.conditions,
            on_stage=rule.on_stage.key if rule.on_stage else None, team_id=rule.team_id,
            members=[MemberIO(user_id=m.user_id, weight=m.weight) for m in rule.members.all()],
            strategy=rule.strategy, is_active=rule.is_active,
        )  # fmt: skip


class PolicyIO(Schema):
    name: str
    priority: int = Field(100, ge=0, le=32000)
    conditions: Any = Field(default_factory=dict)
    first_response_minutes: int = Field(..., ge=1)
    remind_before_minutes: int = Field(0, ge=0)
    escalate: bool = True
    reclaim_after_minutes: int | None = Field(None, ge=1)
    business_hours: bool = True
    is_active: bool = True


class PolicyOut(PolicyIO):
    id: int


class AssignIn(Schema):
    user_id: int | None = Field(None, description="null: back to the unassigned queue")
    note: str = ""


class BulkAssignIn(AssignIn):
    contact_ids: list[int]


class AssignmentOut(Schema):
    id: int
    contact_id: int
    user_id: int | None
    cause: str
    reason: dict[str, Any]
    at: datetime
    due_at: datetime | None
    first_response_at: datetime | None
    breached_at: datetime | None
    is_current: bool


class ActivityIn(Schema):
    kind: str = Field(..., description="call, message or meeting")
    outcome: str = Field(..., description="call: reached, no_answer, busy, wrong_number; message: sent; meeting: held")
    body: str = ""


class ReportRow(Schema):
    name: str
    assigned: int
    responded: int
    median_minutes: float | None
    within_sla: int
    with_sla: int
    breached: int


class ReportOut(Schema):
    reps: list[ReportRow]
    teams: list[ReportRow]


def _rule_data(payload: RuleIn) -> tuple[dict[str, Any], list[tuple[User, int]]]:
    data = payload.dict(exclude={"members", "team_id", "on_stage"})
    data["on_stage"] = None
    if payload.on_stage:
        data["on_stage"] = Stage.objects.filter(stage_set__is_active=True, key=payload.on_stage).first()
        if data["on_stage"] is None:
            raise _error("on_stage", "no such stage in the active stage set", "unknown")
    data["team"] = None
    if payload.team_id is not None:
        data["team"] = Team.objects.filter(pk=payload.team_id).first()
        if data["team"] is None:
            raise _error("team_id", "no such team", "unknown")
    users = User.objects.in_bulk([m.user_id for m in payload.members])
    members = []
    for i, m in enumerate(payload.members):
        if m.user_id not in users:
            raise _error(f"members.{i}.user_id", "no such user", "unknown")
        members.append((users[m.user_id], m.weight))
    return data, members


def _save_rule(rule: AssignmentRule | None, payload: RuleIn) -> AssignmentRule:
    data, members = _rule_data(payload)
    try:
        return actions.save_rule(rule, data, members)
    except actions.RoutingError as exc:
        raise _error(exc.field, exc.message) from None


@router.get("/routing/rules", response=list[RuleOut], summary="Assignment rules in priority order")
def list_rules(request: HttpRequest) -> list[RuleOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [RuleOut.build(r) for r in AssignmentRule.objects.select_related("on_stage").prefetch_related("members")]


@router.post("/routing/rules", response={201: RuleOut}, summary="Create an assignment rule")
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[RuleOut]:
    require_scope(request, ApiKey.Scope.ROUTING_WRITE)
    return Status(201, RuleOut.build(_save_rule(None, payload)))


@router.put("/routing/rules/{rule_id}", response=RuleOut, summary="Replace an assignment rule")
def update_rule(request: HttpRequest, rule_id: int, payload: RuleIn) -> RuleOut:
    require_scope(request, ApiKey.Scope.ROUTING_WRITE)
    return RuleOut.build(_save_rule(get_object_or_404(AssignmentRule, pk=rule_id), payload))


@router.delete("/routing/rules/{rule_id}", response={204: None}, summary="Delete an assignment rule")
def delete_rule(request: HttpRequest, rule_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.ROUTING_WRITE)
    get_object_or_404(AssignmentRule, pk=rule_id).delete()
    return Status(204, None)


@router.get("/routing/policies", response=list[PolicyOut], summary="Response SLA policies")
def list_policies(request: HttpRequest) -> list[PolicyOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [PolicyOut.from_orm(p) for p in SlaPolicy.objects.all()]


@router.post("/routing/policies", response={201: PolicyOut}, summary="Create a response SLA policy")
def create_policy(request: HttpRequest, payload: PolicyIO) -> Status[PolicyOut]:
    require_scope(request, ApiKey.Scope.ROUTING_WRITE)
    try:
        policy = actions.save_policy(None, payload.dict())
    except actions.RoutingError as exc:
        raise _error(exc.field, exc.message) from None
    return Status(201, PolicyOut.from_orm(policy))


def _assignee(user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise _error("user_id", "no active user with this id", "unknown")
    return user


@router.post("/contacts/{contact_id}/assign", response=AssignmentOut, summary="Give a lead to a rep (or the queue)")
def assign(request: HttpRequest, contact_id: int, payload: AssignIn) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    made = actions.reassign([contact.pk], _assignee(payload.user_id), actor=acting_user(request), note=payload.note)
    return made[0]


@router.post("/routing/assign", response=list[AssignmentOut], summary="Reassign up to 1,000 leads, all or nothing")
def bulk_assign(request: HttpRequest, payload: BulkAssignIn) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    if not 1 <= len(payload.contact_ids) <= MAX_BULK:
        raise _error("contact_ids", f"between 1 and {MAX_BULK} contacts")
    ids = list(dict.fromkeys(payload.contact_ids))
    visible = set(visible_contacts(request.auth).filter(pk__in=ids).values_list("pk", flat=True))  # type: ignore[attr-defined]
    for i, contact_id in enumerate(payload.contact_ids):
        if contact_id not in visible:
            raise _error(f"contact_ids.{i}", "no such contact", "not_found")
    return actions.reassign(ids, _assignee(payload.user_id), actor=acting_user(request), note=payload.note)


@router.get("/contacts/{contact_id}/assignments", response=list[AssignmentOut], summary="Who had the lead, and why")
def assignments(request: HttpRequest, contact_id: int) -> Any:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    return list(Assignment.objects.filter(contact=contact))


@router.post("/contacts/{contact_id}/activities", response={201: dict}, summary="Log a call, message or meeting")
def activity(request: HttpRequest, contact_id: int, payload: ActivityIn) -> Status[dict[str, int]]:
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    if payload.kind not in OUTCOMES_OF:
        raise _error("kind", f"one of {', '.join(OUTCOMES_OF)}")
    if payload.outcome not in OUTCOMES_OF[payload.kind]:
        raise _error("outcome", f"one of {', '.join(OUTCOMES_OF[payload.kind])}")
    event = log_activity(contact, kind=payload.kind, outcome=payload.outcome, body=payload.body,
                         actor=acting_user(request))  # fmt: skip
    return Status(201, {"event_id": event.pk})


@router.get("/routing/report", response=ReportOut, summary="Response time and SLA compliance per rep and team")
def report(request: HttpRequest, since: str | None = None, until: str | None = None) -> ReportOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    today = timezone.localdate(clock.now())
    days = {}
    for name, text, default in (("since", since, today - timedelta(days=30)), ("until", until, today)):
        day = parse_date(text) if text else default
        if day is None:
            raise _error(name, "expected a date YYYY-MM-DD", prefix="query")
        days[name] = day
    start = timezone.make_aware(datetime.combine(days["since"], time.min))
    end = timezone.make_aware(datetime.combine(days["until"] + timedelta(days=1), time.min))
    rep_rows, team_rows = reports.response_report(start, end)

    def rows(items: list[reports.Row]) -> list[ReportRow]:
        return [
            ReportRow(name=r.name, assigned=r.assigned, responded=r.responded, median_minutes=r.median_minutes,
                      within_sla=r.within_sla, with_sla=r.with_sla, breached=r.breached)
            for r in items
        ]  # fmt: skip

    return ReportOut(reps=rows(rep_rows), teams=rows(team_rows))
