"""Points rules, scoring settings, a contact's score explained, behaviour events, and predictive scoring
(model versions, training, a contact's chance to buy), through the API."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.responses import Status

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.contacts.access import visible_contacts
from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.contacts.models import Contact, Identity
from nurture.core.normalise.emails import normalize_email
from nurture.core.normalise.errors import NormalisationError
from nurture.core.normalise.phones import normalize_phone
from nurture.scoring import actions, prediction
from nurture.scoring.actions import RuleError
from nurture.scoring.models import ModelVersion, PointsRule, RescoreRun, ScoreEntry, TrainingRun

router = Router(tags=["scoring"])
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_EVENTS = 1000
LEDGER_ROWS = 200


class RuleIn(Schema):
    name: str
    kind: str = Field(..., description="behaviour (engagement points) or attribute (fit points)")
    event_type: str = ""
    conditions: Any = Field(default_factory=list, description="see docs/scoring.md for the condition language")
    points: int
    cap: int | None = None
    cap_period: str = "week"
    is_active: bool = True


class RulePatch(Schema):
    name: str | None = None
    event_type: str | None = None
    conditions: Any = None
    points: int | None = None
    cap: int | None = None
    cap_period: str | None = None
    is_active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    kind: str
    event_type: str
    conditions: Any
    points: int
    cap: int | None
    cap_period: str
    is_active: bool
    rescore_run_id: int | None = None


class RunOut(Schema):
    id: int
    status: str
    reason: str
    total: int
    processed: int
    entries: int
    error: str


class SettingsIO(Schema):
    half_life_days: float
    hot: int
    warm: int


class ContributionOut(Schema):
    rule: str
    dimension: str
    points: float


class EntryOut(Schema):
    rule: str
    dimension: str
    points: int
    at: datetime
    event_id: int | None
    voided_at: datetime | None


class ScoreOut(Schema):
    contact_id: int
    score: int
    fit: int
    engagement: float
    band: str
    scored_at: datetime | None
    contributions: list[ContributionOut]
    ledger: list[EntryOut]


class EventIn(Schema):
    contact_id: int | None = None
    phone: str = ""
    email: str = ""
    type: str
    at: datetime | None = None
    source: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)


class EventsIn(Schema):
    events: list[EventIn]


class EventsOut(Schema):
    recorded: int
    event_ids: list[int]


def _rule_out(rule: PointsRule, run: RescoreRun | None = None) -> RuleOut:
    return RuleOut(
        id=rule.pk, name=rule.name, kind=rule.kind, event_type=rule.event_type, conditions=rule.conditions,
        points=rule.points, cap=rule.cap, cap_period=rule.cap_period, is_active=rule.is_active,
        rescore_run_id=run.pk if run else None,
    )  # fmt: skip


def _invalid(exc: RuleError) -> InvalidLead:
    return InvalidLead([FieldError(exc.field, "invalid", exc.message)])


@router.get("/scoring/rules", response=list[RuleOut], summary="List points rules")
def list_rules(request: HttpRequest) -> list[RuleOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [_rule_out(r) for r in PointsRule.objects.all()]


@router.post(
    "/scoring/rules", response={201: RuleOut}, summary="Create a rule; everyone is re-scored in the background"
)
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[RuleOut]:
    require_scope(request, ApiKey.Scope.SCORING_WRITE)
    try:
        rule, run = actions.save_rule(None, payload.dict(), actor=acting_user(request))
    except RuleError as exc:
        raise _invalid(exc) from None
    return Status(201, _rule_out(rule, run))


@router.patch("/scoring/rules/{rule_id}", response=RuleOut, summary="Change a rule; everyone is re-scored")
def update_rule(request: HttpRequest, rule_id: int, payload: RulePatch) -> RuleOut:
    require_scope(request, ApiKey.Scope.SCORING_WRITE)
    rule = get_object_or_404(PointsRule, pk=rule_id)
    try:
        rule, run = actions.save_rule(rule, payload.dict(exclude_unset=True), actor=acting_user(request))
    except RuleError as exc:
        raise _invalid(exc) from None
    return _rule_out(rule, run)


@router.delete("/scoring/rules/{rule_id}", response=RunOut, summary="Delete a rule; its points are taken back")
def delete_rule(request: HttpRequest, rule_id: int) -> RunOut:
    require_scope(request, ApiKey.Scope.SCORING_WRITE)
    run = actions.delete_rule(get_object_or_404(PointsRule, pk=rule_id), actor=acting_user(request))
    return RunOut.from_orm(run)


@router.get("/scoring/settings", response=SettingsIO, summary="Decay half-life and band thresholds")
def get_settings(request: HttpRequest) -> SettingsIO:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return SettingsIO.from_orm(actions.scoring_settings())


@router.put("/scoring/settings", response=RunOut, summary="Change decay and bands; everyone is re-scored")
def put_settings(request: HttpRequest, payload: SettingsIO) -> RunOut:
    require_scope(request, ApiKey.Scope.SCORING_WRITE)
    try:
        run = actions.save_settings(**payload.dict(), actor=acting_user(request))
    except RuleError as exc:
        raise _invalid(exc) from None
    return RunOut.from_orm(run)


@router.get("/scoring/runs/{run_id}", response=RunOut, summary="Progress of a re-scoring run")
def get_run(request: HttpRequest, run_id: int) -> RunOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return RunOut.from_orm(get_object_or_404(RescoreRun, pk=run_id))


@router.get("/contacts/{contact_id}/score", response=ScoreOut, summary="A contact's score, why, and its ledger")
def contact_score(request: HttpRequest, contact_id: int) -> ScoreOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    ledger = ScoreEntry.objects.filter(contact=contact).order_by("-at", "-id")[:LEDGER_ROWS]
    return ScoreOut(
        contact_id=contact.pk, score=contact.score, fit=contact.fit_score, engagement=contact.engagement_score,
        band=contact.band, scored_at=contact.scored_at,
        contributions=[ContributionOut(rule=c.rule, dimension=c.dimension, points=c.points)
                       for c in actions.explain(contact)],
        ledger=[EntryOut(rule=e.rule_name, dimension=e.dimension, points=e.points, at=e.at, event_id=e.event_id,
                         voided_at=e.voided_at) for e in ledger],
    )  # fmt: skip


@router.post("/events", response={201: EventsOut}, summary="Record behaviour events (1 to 1,000, all or nothing)")
def post_events(request: HttpRequest, payload: EventsIn) -> Status[EventsOut]:
    """Each event names its contact by id, phone or email; it is scored by the behaviour rules at once."""
    require_scope(request, ApiKey.Scope.EVENTS_WRITE)
    if not 1 <= len(payload.events) <= MAX_EVENTS:
        raise InvalidLead([FieldError("events", "size", f"send 1 to {MAX_EVENTS} events")])
    visible = visible_contacts(request.auth)  # type: ignore[attr-defined]
    items, errors = [], []
    for i, (event, (contact_id, error)) in enumerate(zip(payload.events, _contacts_of(payload.events, visible),
                                                         strict=True)):  # fmt: skip
        if "\\u0000" in json.dumps(event.properties):  # PostgreSQL's JSON refuses NUL characters
            errors.append(FieldError(f"events.{i}.properties", "invalid", "NUL characters are not allowed"))
        if not EVENT_TYPE.match(event.type):
            errors.append(FieldError(f"events.{i}.type", "invalid", "lower-case letters, digits and _, 2-40 long"))
        if error:
            errors.append(FieldError(f"events.{i}.{error[0]}", "not_found", error[1]))
        elif contact_id is not None:
            items.append(EventInput(contact_id=contact_id, type=event.type, at=event.at, source=event.source[:100],
                                    data=event.properties))  # fmt: skip
    if errors:
        raise InvalidLead(errors)
    recorded = record_events(items, actor=acting_user(request))
    return Status(201, EventsOut(recorded=len(recorded), event_ids=[e.pk for e in recorded]))


Found = tuple[int | None, tuple[str, str] | None]  # the contact, or the field at fault and why


def _contacts_of(events: list[EventIn], visible: Any) -> list[Found]:
    """The contact of each event, by id (a merged one's survivor), phone or email: three queries per batch."""
    ids = {e.contact_id for e in events if e.contact_id is not None}
    survivor_of = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "merged_into"))
    targets = {i: survivor_of[i] or i for i in ids if i in survivor_of}
    shown = set(visible.filter(pk__in=set(targets.values())).values_list("pk", flat=True))
    keys = [_identity_key(e) for e in events]
    known = {
        (kind, value): contact_id
        for kind, value, contact_id in Identity.objects.filter(value__in={k[1] for k in keys if k[1]},
                                                                contact__in=visible)
        .values_list("kind", "value", "contact_id")
    }  # fmt: skip
    found: list[Found] = []
    for event, (kind, value, error) in zip(events, keys, strict=True):
        if event.contact_id is not None:
            target = targets.get(event.contact_id)
            found.append((target, None) if target in shown else (None, ("contact_id", "no such contact")))
        elif error:
            found.append((None, (kind, error)))
        elif (contact_id := known.get((kind, value))) is not None:
            found.append((contact_id, None))
        else:
            found.append((None, (kind, f"no contact has this {kind}")))
    return found


def _identity_key(event: EventIn) -> tuple[str, str, str]:
    """(kind, normalised value, error) of the event's phone or email; an error leaves the value empty."""
    for kind, raw, normalise in (("phone", event.phone, normalize_phone), ("email", event.email, normalize_email)):
        if raw:
            try:
                return kind, normalise(raw), ""
            except NormalisationError as exc:
                return kind, "", str(exc)
    return "contact_id", "", "give contact_id, phone or email"


@router.get("/scoring/rules/{rule_id}", response=RuleOut, summary="One points rule")
def get_rule(request: HttpRequest, rule_id: int) -> RuleOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return _rule_out(get_object_or_404(PointsRule, pk=rule_id))


# --- predictive scoring ----------------------------------------------------------------------------


class ModelOut(Schema):
    id: int
    trained_at: datetime
    trained_by: str | None
    examples: int
    positives: int
    metrics: dict[str, float] = Field(..., description="5-fold cross-validated auc, brier and top-decile lift")
    features: dict[str, Any]
    is_active: bool
    notes: str


class TrainingRunOut(Schema):
    id: int
    status: str
    reason: str
    error: str = Field(..., description="why the training failed, e.g. not enough history")
    model_version: int | None
    predicted: int
    created_at: datetime
    finished_at: datetime | None


class FactorOut(Schema):
    column: str
    value: str
    delta: float = Field(..., description="percentage points of probability this value adds")
    text: str = Field(..., description="the factor in plain words")


class BestTimeOut(Schema):
    weekday: int | None = Field(..., description="ISO weekday, 1 = Monday; null when no day stands out")
    hours: str
    start_hour: int
    end_hour: int
    basis: str = Field(..., description="lead, similar (same source and province) or all")


class PredictionOut(Schema):
    contact_id: int
    probability: float | None
    model_version: int | None
    computed_at: datetime | None
    factors: list[FactorOut]
    fallback: bool = Field(..., description="no active model: rank by points_score instead")
    decided: bool = Field(..., description="the contact's outcome (won or lost) is already known")
    points_score: int
    best_time: BestTimeOut | None


def _model_out(v: ModelVersion) -> ModelOut:
    return ModelOut(
        id=v.pk, trained_at=v.trained_at, trained_by=v.trained_by.username if v.trained_by else None,
        examples=v.examples, positives=v.positives, metrics=v.metrics, features=v.features, is_active=v.is_active,
        notes=v.notes,
    )  # fmt: skip


def _run_out(run: TrainingRun) -> TrainingRunOut:
    return TrainingRunOut(
        id=run.pk, status=run.status, reason=run.reason, error=run.error, model_version=run.model_version_id,
        predicted=run.processed, created_at=run.created_at, finished_at=run.finished_at,
    )  # fmt: skip


@router.get("/scoring/models", response=list[ModelOut], summary="Predictive model versions, newest first")
def list_models(request: HttpRequest) -> list[ModelOut]:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return [_model_out(v) for v in ModelVersion.objects.select_related("trained_by")[:100]]


@router.post("/scoring/models/train", response={202: TrainingRunOut}, summary="Train a new model in the background")
def train_model(request: HttpRequest) -> Status[TrainingRunOut]:
    """Training takes from seconds to minutes, so it runs as a job: poll `GET /scoring/models/runs/{id}`.

    A run that fails for too little history has status `failed` and the reason in `error`; the active
    model stays as it was.
    """
    require_scope(request, ApiKey.Scope.SCORING_WRITE)
    return Status(202, _run_out(prediction.start_training(actor=acting_user(request), reason="API")))


@router.get("/scoring/models/runs/{run_id}", response=TrainingRunOut, summary="How a training went")
def get_training_run(request: HttpRequest, run_id: int) -> TrainingRunOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    return _run_out(get_object_or_404(TrainingRun, pk=run_id))


@router.get("/contacts/{contact_id}/prediction", response=PredictionOut, summary="A contact's chance to buy, and why")
def contact_prediction(request: HttpRequest, contact_id: int) -> PredictionOut:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    contact = get_object_or_404(visible_contacts(request.auth), pk=contact_id)  # type: ignore[attr-defined]
    view = prediction.prediction_for(contact)
    found, best = view.prediction, prediction.best_time_to_contact(contact)
    return PredictionOut(
        contact_id=contact.pk, probability=found.probability if found else None,
        model_version=found.model_version_id if found else None, computed_at=found.computed_at if found else None,
        factors=[FactorOut(**f, text=prediction.describe(f["column"], f["value"])) for f in found.factors]
        if found else [],
        fallback=view.fallback, decided=view.decided, points_score=contact.score,
        best_time=BestTimeOut(**best.as_json()) if best else None,
    )  # fmt: skip
