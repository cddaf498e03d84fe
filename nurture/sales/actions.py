"""Every write to the sales pipeline goes through here: deals, conversion, moves, won / lost, tasks, activities.

Each action is one transaction. A deal carries a version: a move or change made from an older version (a stale
board, a form left open) is refused with StaleDeal, never written over someone else's change. The contact's
lifecycle follows the deal through contacts.actions.change_stage: converted → SQO, won → Customer, lost → Lost
and, by the NURTURE_SALES_LOST_TO_NURTURING setting, back to nurturing (MQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts import actions as contact_actions
from nurture.contacts.models import Company, Contact, Event
from nurture.contacts.signals import events_recorded
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.core.models import Job
from nurture.core.money import DEFAULT_CURRENCY
from nurture.core.normalise import fold
from nurture.customers.actions import OrderError, clean_currency, clean_products, record_order
from nurture.customers.models import Order
from nurture.lifecycle import stages as lifecycle_stages
from nurture.lifecycle.actions import StageError
from nurture.lifecycle.models import Stage, StageChange
from nurture.notifications.actions import notify
from nurture.notifications.models import Notification
from nurture.sales.models import Deal, LostReason, Pipeline, PipelineStage, Task

REMIND_JOB = "sales.task_remind"
DUE_JOB = "sales.task_due"
ROTTING_JOB = "sales.rotting"
# The seed's standard pipeline (seed 004): stage key, English, Vietnamese, win probability, rotting days.
PRESET_STAGES = [
    ("Consult", "Tư vấn", 10, 7),
    ("Quote", "Báo giá", 30, 7),
    ("Demo", "Demo / học thử", 50, 10),
    ("Negotiate", "Đàm phán", 70, 10),
    ("Close", "Chốt", 90, 5),
]
PRESET_LOST_REASONS = [
    ("Chose a competitor", "Chọn đối thủ"),
    ("Price too high", "Giá cao"),
    ("No need now", "Chưa có nhu cầu"),
    ("Could not reach", "Không liên lạc được"),
    ("No budget", "Không có ngân sách"),
]
# Activities logged from the lead or deal page: the kind of contacts.log_activity and, for messages, the channel.
ACTIVITY_KINDS = {
    "call": ("call", ""), "meeting": ("meeting", ""), "email": ("message", "email"), "sms": ("message", "sms"),
    "zalo": ("message", "zalo"), "facebook": ("message", "facebook"),
}  # fmt: skip
MAX_TITLE = 200


class SalesError(ValueError):
    """A refused change; `field` names the input at fault."""

    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class StaleDeal(SalesError):
    """The deal changed since the caller read it (someone else moved it): `deal` is its current state."""

    code = "stale"

    def __init__(self, deal: Deal) -> None:
        super().__init__(
            "version",
            _("Someone else changed “%(title)s” meanwhile (now in “%(stage)s”); nothing was overwritten.")
            % {"title": deal.title, "stage": deal.stage.name},
        )
        self.deal = deal


@dataclass(frozen=True)
class NextStep:
    """The task a deal gets when it moves: what to do, and when."""

    title: str
    due_at: datetime
    kind: str = Task.Kind.CALL
    remind_at: datetime | None = None


# --- pipelines ---------------------------------------------------------------------------------------------


def install_presets() -> Pipeline:
    """The seed's standard pipeline and the usual lost reasons, once; returns the first pipeline."""
    with transaction.atomic():
        if not LostReason.objects.exists():
            LostReason.objects.bulk_create(
                LostReason(name_en=en, name_vi=vi, position=i) for i, (en, vi) in enumerate(PRESET_LOST_REASONS)
            )
        existing = Pipeline.objects.order_by("position", "id").first()
        if existing is not None:
            return existing
        return save_pipeline(
            None, name_en="Standard sales", name_vi="Bán hàng tiêu chuẩn",
            stages=[StageInput(en, vi, p, r) for en, vi, p, r in PRESET_STAGES],
        )  # fmt: skip


@dataclass(frozen=True)
class StageInput:
    name_en: str
    name_vi: str
    probability: int
    rotting_days: int | None = None
    id: int | None = None


def save_pipeline(
    pipeline: Pipeline | None,
    *,
    name_en: str,
    name_vi: str = "",
    stages: Sequence[StageInput],
    require_next_step: bool = True,
    is_active: bool = True,
) -> Pipeline:
    """Create a pipeline or change one; stages are given in order (an existing stage by its id).

    A stage that still holds deals cannot be removed.
    """
    name_en, name_vi = name_en.strip(), (name_vi or name_en).strip()
    if not name_en:
        raise SalesError("name", _("A pipeline needs a name."))
    if not stages:
        raise SalesError("stages", _("A pipeline needs at least one stage."))
    for i, s in enumerate(stages):
        if not s.name_en.strip():
            raise SalesError(f"stages.{i}.name", _("A stage needs a name."))
        if not 0 <= s.probability <= 100:
            raise SalesError(f"stages.{i}.probability", _("A probability is between 0 and 100 (%)."))
        if s.rotting_days is not None and s.rotting_days < 1:
            raise SalesError(f"stages.{i}.rotting_days", _("At least one day, or blank for never."))
    with transaction.atomic():
        if pipeline is None:
            pipeline = Pipeline(created_at=clock.now(), position=Pipeline.objects.count())
        pipeline.name_en, pipeline.name_vi = name_en[:100], name_vi[:100]
        pipeline.require_next_step, pipeline.is_active = require_next_step, is_active
        pipeline.save()
        current = {s.pk: s for s in pipeline.stages.all()}
        kept = {s.id for s in stages if s.id is not None}
        for i, s in enumerate(stages):
            if s.id is not None and s.id not in current:
                raise SalesError(f"stages.{i}.id", _("This stage is not in the pipeline."))
        gone = [pk for pk in current if pk not in kept]
        if Deal.objects.filter(stage_id__in=gone).exists():
            raise SalesError("stages", _("A stage that holds deals cannot be removed; move its deals first."))
        PipelineStage.objects.filter(pk__in=gone).delete()
        for position, s in enumerate(stages):
            stage = current.get(s.id) if s.id is not None else None
            stage = stage or PipelineStage(pipeline=pipeline)
            stage.name_en, stage.name_vi = s.name_en.strip()[:100], (s.name_vi or s.name_en).strip()[:100]
            stage.position, stage.probability, stage.rotting_days = position, s.probability, s.rotting_days
            stage.save()
    return pipeline


@dataclass(frozen=True)
class LostReasonInput:
    name_en: str
    name_vi: str = ""
    is_active: bool = True
    id: int | None = None


def save_lost_reasons(reasons: Sequence[LostReasonInput]) -> list[LostReason]:
    """Replace the lost reasons offered, in order (an existing reason by its id): rename, reorder, deactivate, add.

    A reason left out is deleted, unless a deal was lost for it: that one can only be deactivated, so the deal
    keeps its reason. At least one reason stays active, or no deal could be marked lost.
    """
    seen: set[str] = set()
    for i, r in enumerate(reasons):
        name = r.name_en.strip().casefold()
        if not name:
            raise SalesError(f"reasons.{i}.name", _("A lost reason needs a name."))
        if name in seen:
            raise SalesError(f"reasons.{i}.name", _("Two lost reasons have the same name."))
        seen.add(name)
    if not any(r.is_active for r in reasons):
        raise SalesError("reasons", _("Keep at least one lost reason active."))
    with transaction.atomic():
        # Locked, so a deal being marked lost meanwhile waits for this (its reason's key is checked) instead of
        # being lost for a reason deleted under it.
        current = {r.pk: r for r in LostReason.objects.select_for_update()}
        for i, r in enumerate(reasons):
            if r.id is not None and r.id not in current:
                raise SalesError(f"reasons.{i}.id", _("This lost reason does not exist."))
        kept = {r.id for r in reasons if r.id is not None}
        gone = [pk for pk in current if pk not in kept]
        if Deal.objects.filter(lost_reason_id__in=gone).exists():
            raise SalesError("reasons", _("A reason that deals were lost for cannot be removed; deactivate it."))
        LostReason.objects.filter(pk__in=gone).delete()
        saved = []
        for position, r in enumerate(reasons):
            reason = (current.get(r.id) if r.id is not None else None) or LostReason()
            reason.name_en, reason.name_vi = r.name_en.strip()[:100], (r.name_vi or r.name_en).strip()[:100]
            reason.position, reason.is_active = position, r.is_active
            reason.save()
            saved.append(reason)
    return saved


# --- deals -------------------------------------------------------------------------------------------------


def _clean_money(amount: int, currency: str) -> str:
    if amount < 0:
        raise SalesError("amount", _("An amount cannot be negative."))
    try:
        return clean_currency(currency)
    except OrderError as exc:
        raise SalesError(exc.field, exc.message) from None


def _clean_products(products: Sequence[str]) -> list[str]:
    try:
        return clean_products(products)
    except OrderError as exc:
        raise SalesError(exc.field, exc.message) from None


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise SalesError("title", _("A deal needs a title."))
    if len(title) > MAX_TITLE:
        raise SalesError("title", _("At most 200 characters."))
    return title


def _event(deal: Deal, type_: str, actor: User | None, at: datetime, **data: Any) -> Event:
    return Event.objects.create(
        contact_id=deal.contact_id, deal=deal, type=type_, at=at, actor=actor,
        data={"deal_id": deal.pk, "title": deal.title, **data},
    )  # fmt: skip


def create_deal(
    contact: Contact,
    *,
    pipeline: Pipeline,
    title: str,
    stage: PipelineStage | None = None,
    amount: int = 0,
    currency: str = DEFAULT_CURRENCY,
    products: Sequence[str] = (),
    expected_close: date | None = None,
    owner: User | None = None,
    company: Company | None = None,
    actor: User | None = None,
) -> Deal:
    """A deal for a contact, in the pipeline's first stage unless told; it inherits the lead's attribution."""
    title = _clean_title(title)
    currency = _clean_money(amount, currency)
    names = _clean_products(products)
    if not pipeline.is_active:
        raise SalesError("pipeline_id", _("This pipeline is archived."))
    if stage is None:
        stage = pipeline.stages.order_by("position").first()
        if stage is None:
            raise SalesError("pipeline_id", _("This pipeline has no stages."))
    elif stage.pipeline_id != pipeline.pk:
        raise SalesError("stage_id", _("“%(stage)s” is a stage of another pipeline.") % {"stage": stage.name})
    now = clock.now()
    with transaction.atomic():
        deal = Deal.objects.create(
            title=title, pipeline=pipeline, stage=stage, contact=contact, company=company or contact.company,
            owner=owner if owner is not None else contact.owner or actor, amount=amount, currency=currency,
            products=names, expected_close=expected_close, source=contact.source, medium=contact.medium,
            campaign=contact.campaign, stage_entered_at=now, last_activity_at=now, created_at=now, updated_at=now,
        )  # fmt: skip
        _event(deal, Event.Type.DEAL_CREATED, actor, now, pipeline=pipeline.name, stage=stage.name,
               amount=amount, currency=currency)  # fmt: skip
    return deal


def _lifecycle_stage(key: str) -> Stage | None:
    """A stage of the active lifecycle set by key; None when a custom set has no such stage."""
    try:
        return Stage.objects.select_related("stage_set").get(pk=lifecycle_stages.stage_id(key))
    except (KeyError, Stage.DoesNotExist):
        return None


def _move_contact(contact: Contact, key: str, *, actor: User | None, reason: str, forward_only: bool = True) -> None:
    target = _lifecycle_stage(key)
    if target is None:
        return
    current = Contact.objects.select_related("stage").get(pk=contact.pk).stage
    if forward_only and current.stage_set_id == target.stage_set_id and current.position >= target.position:
        return
    try:
        contact_actions.change_stage(contact, to_stage=target, cause=StageChange.Cause.USER, actor=actor,
                                     reason=reason)  # fmt: skip
    except StageError as exc:
        raise SalesError("contact_id", exc.message) from None


QUALIFIED_STAGE = "sql"
OPPORTUNITY_STAGE = "sqo"


def convert_lead(
    contact: Contact,
    *,
    pipeline: Pipeline,
    title: str = "",
    company_name: str = "",
    actor: User | None = None,
    **deal_fields: Any,
) -> Deal:
    """Turn a qualified lead (SQL or further) into a deal in one step: the company when it has none yet, the
    deal, and the lead moved to SQO."""
    qualified = _lifecycle_stage(QUALIFIED_STAGE)
    current = Contact.objects.select_related("stage").get(pk=contact.pk).stage
    if qualified is not None and current.stage_set_id == qualified.stage_set_id:
        if current.position < qualified.position or current.outcome == Stage.Outcome.LOST:
            raise SalesError(
                "contact_id",
                _("Only a qualified lead (%(stage)s) can be converted; “%(name)s” is in “%(current)s”.")
                % {"stage": qualified.name, "name": contact.display_name, "current": current.name},
            )
    company_name = " ".join(company_name.split())
    with transaction.atomic():
        company = contact.company
        if company is None and company_name:
            company = Company.objects.create(name=company_name[:200], name_folded=fold(company_name)[:200],
                                             created_at=clock.now())  # fmt: skip
            Contact.objects.filter(pk=contact.pk).update(company=company, updated_at=clock.now())
            contact.company = company
        deal = create_deal(contact, pipeline=pipeline, title=title or contact.display_name, company=company,
                           actor=actor, **deal_fields)  # fmt: skip
        _move_contact(contact, OPPORTUNITY_STAGE, actor=actor, reason=_("Deal “%(title)s”") % {"title": deal.title})
    return deal


def _locked(deal: Deal, version: int | None) -> Deal:
    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    if version is not None and locked.version != version:
        raise StaleDeal(Deal.objects.select_related("stage").get(pk=deal.pk))
    return locked


def _require_open(deal: Deal) -> None:
    if deal.status != Deal.Status.OPEN:
        raise SalesError("status", _("This deal is closed (%(status)s).") % {"status": deal.get_status_display()})


def move_deal(
    deal: Deal, *, stage: PipelineStage, version: int | None, actor: User | None, next_step: NextStep | None = None
) -> Deal:
    """Move a deal to another stage of its pipeline, with its next step (required when the pipeline says so).

    `version` is what the caller saw; a deal changed since is refused with StaleDeal (None skips the check: a
    worker acting on the deal's current state).
    """
    if stage.pipeline_id != deal.pipeline_id:
        raise SalesError("stage_id", _("“%(stage)s” is a stage of another pipeline.") % {"stage": stage.name})
    now = clock.now()
    with transaction.atomic():
        locked = _locked(deal, version)
        _require_open(locked)
        if locked.stage_id == stage.pk:
            return locked
        if next_step is None and locked.pipeline.require_next_step:
            raise SalesError("next_step", _("Give the next step (what, and when) before moving the deal."))
        from_stage = locked.stage
        locked.stage, locked.stage_entered_at, locked.last_activity_at = stage, now, now
        locked.version, locked.updated_at = locked.version + 1, now
        locked.save(update_fields=["stage", "stage_entered_at", "last_activity_at", "version", "updated_at"])
        _event(locked, Event.Type.DEAL_STAGE_CHANGED, actor, now, **{"from": from_stage.name, "to": stage.name})
        if next_step is not None:
            add_task(
                deal=locked, title=next_step.title, kind=next_step.kind, due_at=next_step.due_at,
                remind_at=next_step.remind_at, assignee=locked.owner or actor, actor=actor,
            )  # fmt: skip
    return locked


DEAL_EDITABLE = ("title", "amount", "currency", "products", "expected_close", "owner")


def update_deal(deal: Deal, *, version: int | None, changes: dict[str, Any], actor: User | None) -> Deal:
    """Change a deal's fields (validated here); recorded on the timeline as an update."""
    unknown = set(changes) - set(DEAL_EDITABLE)
    if unknown:
        raise SalesError(sorted(unknown)[0], _("This field cannot be changed here."))
    if "title" in changes:
        changes["title"] = _clean_title(changes["title"])
    if "amount" in changes or "currency" in changes:
        changes["currency"] = _clean_money(changes.get("amount", deal.amount), changes.get("currency", deal.currency))
    if "products" in changes:
        changes["products"] = _clean_products(changes["products"])
    now = clock.now()
    with transaction.atomic():
        locked = _locked(deal, version)
        diff = {}
        for name, value in changes.items():
            old = getattr(locked, name)
            if old != value:
                diff[name] = [_plain(old), _plain(value)]
                setattr(locked, name, value)
        if not diff:
            return locked
        locked.version, locked.updated_at = locked.version + 1, now
        locked.save()
        _event(locked, Event.Type.UPDATED, actor, now, changes=diff)
    return locked


def _plain(value: Any) -> Any:
    if isinstance(value, User):
        return value.display_name
    return value.isoformat() if hasattr(value, "isoformat") else value


def mark_won(
    deal: Deal,
    *,
    version: int | None,
    actor: User | None,
    amount: int | None = None,
    products: Sequence[str] | None = None,
    ordered_on: date | None = None,
) -> tuple[Deal, Order]:
    """Won: the order is recorded (the deal's amount and products unless told) and the contact becomes a
    Customer (a Repeat customer when already one)."""
    now = clock.now()
    with transaction.atomic():
        locked = _locked(deal, version)
        _require_open(locked)
        locked.status, locked.closed_at, locked.last_activity_at = Deal.Status.WON, now, now
        locked.version, locked.updated_at = locked.version + 1, now
        if amount is not None:
            _clean_money(amount, locked.currency)
            locked.amount = amount
        if products is not None:
            locked.products = _clean_products(products)
        locked.save()
        won = _event(locked, Event.Type.DEAL_WON, actor, now, amount=locked.amount, currency=locked.currency)
        events_recorded.send(Contact, events=[won])
        try:
            order = record_order(locked.contact, amount=locked.amount, products=locked.products,
                                 ordered_on=ordered_on, currency=locked.currency, deal=locked, actor=actor)  # fmt: skip
        except OrderError as exc:
            raise SalesError(exc.field, exc.message) from None
        contact = locked.contact
        reason = _("Deal “%(title)s” won") % {"title": locked.title}
        if contact.stage.key == "customer":
            _move_contact(contact, "repeat_customer", actor=actor, reason=reason)
        elif contact.stage.outcome != Stage.Outcome.WON:
            _move_contact(contact, "customer", actor=actor, reason=reason, forward_only=False)
    return locked, order


def mark_lost(deal: Deal, *, version: int | None, reason: LostReason, note: str = "", actor: User | None) -> Deal:
    """Lost, with its reason. A contact with no other open deal who is not a customer goes to Lost and, by
    setting, back to nurturing."""
    if not reason.is_active:
        raise SalesError("reason_id", _("This lost reason is no longer offered."))
    now = clock.now()
    with transaction.atomic():
        locked = _locked(deal, version)
        _require_open(locked)
        locked.status, locked.closed_at, locked.last_activity_at = Deal.Status.LOST, now, now
        locked.lost_reason, locked.lost_note = reason, note.strip()
        locked.version, locked.updated_at = locked.version + 1, now
        locked.save()
        lost = _event(locked, Event.Type.DEAL_LOST, actor, now, reason=reason.name, note=locked.lost_note)
        events_recorded.send(Contact, events=[lost])  # journeys may start on a lost deal (win-back)
        contact = Contact.objects.select_related("stage").get(pk=locked.contact_id)
        others_open = Deal.objects.filter(contact=contact, status=Deal.Status.OPEN).exists()
        if not others_open and contact.stage.outcome == Stage.Outcome.OPEN:
            why = _("Deal “%(title)s” lost: %(reason)s") % {"title": locked.title, "reason": reason.name}
            _move_contact(contact, "lost", actor=actor, reason=why, forward_only=False)
            if settings.NURTURE_SALES_LOST_TO_NURTURING:
                _move_contact(contact, "mql", actor=actor, reason=_("Back to nurturing"), forward_only=False)
    return locked


# --- tasks and reminders -----------------------------------------------------------------------------------


def _timer_key(job: str, task: Task, at: datetime) -> str:
    return f"{job}:{task.pk}:{int(at.timestamp())}"


def _schedule(task: Task) -> None:
    """The task's reminder and its due-time alert as durable jobs, keyed by the time they are for."""
    if task.remind_at is not None:
        enqueue_on_commit(REMIND_JOB, {"task_id": task.pk, "at": task.remind_at.isoformat()},
                          key=_timer_key(REMIND_JOB, task, task.remind_at), due_at=task.remind_at)  # fmt: skip
    enqueue_on_commit(DUE_JOB, {"task_id": task.pk, "at": task.due_at.isoformat()},
                      key=_timer_key(DUE_JOB, task, task.due_at), due_at=task.due_at)  # fmt: skip


def _unschedule(task: Task) -> None:
    keys = [_timer_key(DUE_JOB, task, task.due_at)]
    if task.remind_at is not None:
        keys.append(_timer_key(REMIND_JOB, task, task.remind_at))
    Job.objects.filter(idempotency_key__in=keys, status=Job.Status.QUEUED).delete()


def add_task(
    *,
    title: str,
    due_at: datetime,
    assignee: User | None,
    kind: str = Task.Kind.CALL,
    remind_at: datetime | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
    notes: str = "",
    actor: User | None = None,
) -> Task:
    """A task on a contact or a deal (its contact too), with an optional reminder before it is due."""
    title = " ".join(title.split())
    if not title:
        raise SalesError("title", _("A task needs a title."))
    if len(title) > MAX_TITLE:
        raise SalesError("title", _("At most 200 characters."))
    if kind not in Task.Kind.values:
        raise SalesError("kind", _("One of: %(kinds)s.") % {"kinds": ", ".join(Task.Kind.values)})
    if assignee is None or not assignee.is_active:
        raise SalesError("assignee_id", _("A task needs an active assignee."))
    if remind_at is not None and remind_at > due_at:
        raise SalesError("remind_at", _("The reminder must come before the task is due."))
    if deal is None and contact is None:
        raise SalesError("contact_id", _("A task is for a contact or a deal."))
    if deal is not None and contact is not None and deal.contact_id != contact.pk:
        raise SalesError("contact_id", _("This deal belongs to another contact."))
    now = clock.now()
    with transaction.atomic():
        task = Task.objects.create(
            kind=kind, title=title, notes=notes.strip(), due_at=due_at, remind_at=remind_at, assignee=assignee,
            contact_id=deal.contact_id if deal is not None else contact.pk,  # type: ignore[union-attr]
            deal=deal, created_by=actor, created_at=now,
        )  # fmt: skip
        Event.objects.create(
            contact_id=task.contact_id, deal=deal, type=Event.Type.TASK_CREATED, at=now, actor=actor,
            data={"task_id": task.pk, "title": title, "kind": kind, "due_at": due_at.isoformat(),
                  "assignee": assignee.display_name},
        )  # fmt: skip
        _schedule(task)
    return task


def complete_task(task: Task, *, actor: User | None) -> Task:
    now = clock.now()
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.done_at is not None:
            return locked
        locked.done_at, locked.done_by = now, actor
        locked.save(update_fields=["done_at", "done_by"])
        _unschedule(locked)
        Event.objects.create(
            contact_id=locked.contact_id, deal_id=locked.deal_id, type=Event.Type.TASK_DONE, at=now, actor=actor,
            data={"task_id": locked.pk, "title": locked.title, "kind": locked.kind},
        )  # fmt: skip
        if locked.deal_id:
            Deal.objects.filter(pk=locked.deal_id).update(last_activity_at=now)
    return locked


def _task_url(task: Task) -> str:
    if task.deal_id:
        return reverse("sales:deal", kwargs={"deal_id": task.deal_id})
    return reverse("contacts:detail", kwargs={"contact_id": task.contact_id})


def _local(at: datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M %d/%m")


def task_timer(job: str, task_id: int, at: str) -> str:
    """A task's reminder or due-time alert fell due: tell the assignee, unless the task was done or moved."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("assignee", "contact").filter(pk=task_id).first()
        if task is None or task.done_at is not None:
            return "nothing"
        moment = task.remind_at if job == REMIND_JOB else task.due_at
        # The job was queued for one time; a task moved since has a newer job of its own.
        if moment is None or moment != datetime.fromisoformat(at):
            return "nothing"
        if job == REMIND_JOB:
            title = _("Reminder: %(task)s (%(who)s) at %(at)s")
        else:
            title = _("Overdue: %(task)s (%(who)s), due %(at)s")
            task.overdue_notified_at = clock.now()
            task.save(update_fields=["overdue_notified_at"])
        title = title % {"task": task.title, "who": task.contact.display_name, "at": _local(task.due_at)}
        notify(task.assignee, kind=Notification.Kind.TASK, title=title, contact=task.contact, url=_task_url(task),
               key=_timer_key(job, task, moment))  # fmt: skip
    return "notified"


def rotting_deals(now: datetime, deals: QuerySet[Deal] | None = None) -> list[Deal]:
    """Open deals (of `deals`) with no activity for longer than their stage allows: one query per stage with a
    limit, along the deal_board index."""
    base = Deal.objects.all() if deals is None else deals
    found: list[Deal] = []
    for stage in PipelineStage.objects.filter(rotting_days__isnull=False, pipeline__is_active=True):
        cutoff = now - timedelta(days=stage.rotting_days)  # type: ignore[arg-type]
        found.extend(
            base.filter(stage=stage, status=Deal.Status.OPEN, last_activity_at__lt=cutoff)
            .select_related("stage", "owner", "contact")
            .order_by("last_activity_at")
        )
    return found


def notify_rotting() -> int:
    """Tell each owner of a rotting deal, once per stale spell (keyed by the deal's last activity)."""
    told = 0
    with transaction.atomic():
        for deal in rotting_deals(clock.now()):
            if deal.owner is None:
                continue
            key = f"{ROTTING_JOB}:{deal.pk}:{int(deal.last_activity_at.timestamp())}"
            title = _("Rotting deal: %(title)s, no activity since %(at)s") % {
                "title": deal.title, "at": _local(deal.last_activity_at),
            }  # fmt: skip
            notify(deal.owner, kind=Notification.Kind.TASK, title=title, contact=deal.contact, key=key,
                   url=reverse("sales:deal", kwargs={"deal_id": deal.pk}))  # fmt: skip
            told += 1
    return told


# --- activities --------------------------------------------------------------------------------------------


def log_activity(
    contact: Contact,
    *,
    kind: str,
    actor: User | None,
    body: str = "",
    outcome: str = "",
    deal: Deal | None = None,
) -> Event:
    """A call, meeting, note, email, SMS, Zalo or Facebook message on the contact's timeline (and the deal's)."""
    if deal is not None and deal.contact_id != contact.pk:
        raise SalesError("deal_id", _("This deal belongs to another contact."))
    with transaction.atomic():
        if kind == "note":
            if not body.strip():
                raise SalesError("body", _("A note cannot be blank."))
            note = contact_actions.add_note(contact, body=body, author=actor, deal=deal)
            event = Event.objects.get(type=Event.Type.NOTE_ADDED, data__note_id=note.pk, contact=contact)
        elif kind in ACTIVITY_KINDS:
            base, channel = ACTIVITY_KINDS[kind]
            outcome = outcome or contact_actions.OUTCOMES_OF[base][0]
            if outcome not in contact_actions.OUTCOMES_OF[base]:
                raise SalesError("outcome", _("One of: %(values)s.")
                                 % {"values": ", ".join(contact_actions.OUTCOMES_OF[base])})  # fmt: skip
            event = contact_actions.log_activity(contact, kind=base, outcome=outcome, body=body, actor=actor,
                                                 channel=channel, deal=deal)  # fmt: skip
        else:
            raise SalesError("kind", _("One of: %(values)s.") % {"values": ", ".join(["note", *ACTIVITY_KINDS])})
        if deal is not None:
            Deal.objects.filter(pk=deal.pk).update(last_activity_at=event.at)
    return event
