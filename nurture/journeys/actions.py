"""Journeys: every write. Defining and publishing journeys, enrolling contacts, and what happens to enrolments
when their contact changes (triggers, goals, wake-ups, unsubscribes, merges).

The hooks (`on_*`) run inside the transaction of the change that calls them (jobs.py connects them to the
contacts signals), so an enrolment exists exactly when the capture, stage move or event that caused it does.
The step runner is engine.py.
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.conditions import ConditionError, contact_q, event_q
from nurture.contacts.models import Contact, Event
from nurture.core import clock, revisions
from nurture.identity.models import Merge
from nurture.journeys import graph as graphs
from nurture.journeys.models import Enrolment, Journey, JourneyVersion
from nurture.lifecycle import stages
from nurture.lifecycle.models import Stage
from nurture.segments.models import Segment

log = logging.getLogger(__name__)

# Enrolments the engine holds in this transaction: the hooks leave them to it (it checks goals before every
# step) rather than write over state it is about to save.
RUNNING: ContextVar[frozenset[int]] = ContextVar("journeys_running", default=frozenset())
CHUNK = 500
MAX_BULK = 1000
JOURNEY_FIELDS = ("name", "description", "trigger", "reenrol", "reenrol_days", "quiet_hours", "goal",
                  "exit_on_unsubscribe", "graph")  # fmt: skip
TRIGGER_TYPES = ("manual", "event", "stage", "segment", "score_band", "date")
UNSUBSCRIBED = Event.Type.UNSUBSCRIBED.value
ALL_CHANNELS = {"email", "sms", "zalo"}


class JourneyError(ValueError):
    """A refused change; `field` names the input at fault, `problems` the graph's (each naming its step)."""

    def __init__(self, field: str, message: str, problems: Sequence[graphs.Problem] = ()) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.problems = field, message, list(problems)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# --- defining journeys ----------------------------------------------------------------------------------------


def validate_trigger(trigger: Any) -> dict[str, Any]:
    """The trigger, cleaned ({} becomes manual); raises JourneyError naming the part at fault."""
    if not trigger:
        return {"type": "manual"}
    if not isinstance(trigger, Mapping) or trigger.get("type") not in TRIGGER_TYPES:
        raise JourneyError("trigger.type", _("one of %(types)s") % {"types": ", ".join(TRIGGER_TYPES)})
    kind = trigger["type"]
    clean: dict[str, Any] = {"type": kind}
    if kind == "event":
        event = trigger.get("event")
        if not isinstance(event, str) or not graphs.EVENT_TYPE.match(event):
            raise JourneyError("trigger.event", _("an event type, e.g. form_submitted"))
        clean["event"] = event
        if trigger.get("where"):
            _compiles(event_q, trigger["where"], "trigger.where")
            clean["where"] = trigger["where"]
    elif kind == "stage":
        if trigger.get("stage") not in {s.key for s in stages.active_stages()}:
            raise JourneyError("trigger.stage", _("not a stage of the active stage set"))
        clean["stage"] = trigger["stage"]
    elif kind == "segment":
        segment = trigger.get("segment")
        if not isinstance(segment, int) or not Segment.objects.filter(pk=segment).exists():
            raise JourneyError("trigger.segment", _("no such segment"))
        clean["segment"] = trigger["segment"]
    elif kind == "score_band":
        if trigger.get("band") not in Contact.Band.values:
            raise JourneyError("trigger.band", _("hot, warm or cold"))
        clean["band"] = trigger["band"]
    elif kind == "date":
        field = trigger.get("field")
        if field != "birth_date" and not (isinstance(field, str) and field.startswith("custom.") and len(field) > 7):
            raise JourneyError("trigger.field", _("birth_date or custom.<a date field>"))
        before = trigger.get("days_before", 0)
        if not isinstance(before, int) or isinstance(before, bool) or not 0 <= before <= 365:
            raise JourneyError("trigger.days_before", _("0 to 365 days"))
        clean.update(field=field, days_before=before, annual=bool(trigger.get("annual", field == "birth_date")))
    if kind != "date" and kind != "manual" and trigger.get("filter"):
        _compiles(contact_q, trigger["filter"], "trigger.filter")
        clean["filter"] = trigger["filter"]
    return clean


def _compiles(compile: Any, condition: Any, field: str) -> None:
    try:
        compile(condition)
    except ConditionError as exc:
        raise JourneyError(field, str(exc)) from None


def check_graph(graph: Any) -> list[graphs.Problem]:
    """The graph's problems, with the templates and journeys its steps name looked up."""
    from nurture.messaging.models import Template

    steps = graph.get("steps") if isinstance(graph, Mapping) else None
    ids = [s.get("template") for s in steps.values() if isinstance(s, Mapping)] if isinstance(steps, Mapping) else []
    templates = Template.objects.in_bulk([i for i in ids if isinstance(i, int)])
    return graphs.validate(graph, templates=templates, journeys=set(Journey.objects.values_list("pk", flat=True)))


def save_journey(journey: Journey | None, data: Mapping[str, Any], *, actor: User | None) -> Journey:
    """Create or change a journey. The graph is the draft: a live journey's running version is not touched
    until `publish`."""
    clean = {k: v for k, v in data.items() if k in JOURNEY_FIELDS}
    merged = {f: clean.get(f, getattr(journey, f) if journey else None) for f in JOURNEY_FIELDS}
    name = str(merged["name"] or "").strip()
    if not name or len(name) > 200:
        raise JourneyError("name", _("a name of 1 to 200 characters"))
    clean["name"] = name
    clean["trigger"] = validate_trigger(merged["trigger"])
    reenrol = merged["reenrol"] or Journey.Reenrol.NEVER
    if reenrol not in Journey.Reenrol.values:
        raise JourneyError("reenrol", _("never, always or after_days"))
    days = merged["reenrol_days"]
    if reenrol == Journey.Reenrol.AFTER_DAYS and (not isinstance(days, int) or days < 1):
        raise JourneyError("reenrol_days", _("at least 1 day"))
    clean["reenrol"] = reenrol
    if merged["goal"]:
        _compiles(contact_q, merged["goal"], "goal")
    if "graph" in clean or journey is None:
        graph = merged["graph"] or graphs.empty()
        problems = check_graph(graph)
        if problems:
            raise JourneyError("graph", "; ".join(map(str, problems)), problems)
        clean["graph"] = graph
    now = clock.now()
    with transaction.atomic():
        if journey is None:
            journey = Journey(created_by=actor, created_at=now)
        for name, value in clean.items():
            setattr(journey, name, value)
        journey.goal = journey.goal or {}
        journey.updated_at = now
        journey.save()
    return journey


# --- the step editor: each edit is a whole-draft save, validated like any other ----------------------------

TARGET_KEYS = ("next", "yes", "no", "timeout_next")


def save_step(journey: Journey, step_id: str, step: dict[str, Any], *, old_id: str | None = None,
              actor: User | None) -> Journey:  # fmt: skip
    """Add a step at the end of the draft, or replace `old_id` (renaming it rewrites the steps that lead to it)."""
    graph = _draft(journey)
    if step_id != old_id and step_id in graph["steps"]:
        raise JourneyError("id", _("a step %(id)r exists already") % {"id": step_id})
    if old_id is None:
        graph["order"].append(step_id)
    else:
        graph["order"][graph["order"].index(old_id)] = step_id
        del graph["steps"][old_id]
        for other in graph["steps"].values():
            for key in TARGET_KEYS:
                if other.get(key) == old_id:
                    other[key] = step_id
            for arm in other.get("arms") or []:
                if arm.get("next") == old_id:
                    arm["next"] = step_id
    graph["steps"][step_id] = step
    return save_journey(journey, {"graph": graph}, actor=actor)


def delete_step(journey: Journey, step_id: str, *, actor: User | None) -> Journey:
    graph = _draft(journey)
    graph["order"].remove(step_id)
    del graph["steps"][step_id]
    return save_journey(journey, {"graph": graph}, actor=actor)


def move_step(journey: Journey, step_id: str, by: int, *, actor: User | None) -> Journey:
    """Move a step up (-1) or down (+1) the order: steps without an explicit `next` follow the new order."""
    graph = _draft(journey)
    order = graph["order"]
    at = order.index(step_id)
    to = min(max(at + by, 0), len(order) - 1)
    order.insert(to, order.pop(at))
    return save_journey(journey, {"graph": graph}, actor=actor)


def _draft(journey: Journey) -> dict[str, Any]:
    graph = copy.deepcopy(journey.graph) or graphs.empty()
    graph.setdefault("order", [])
    graph.setdefault("steps", {})
    return graph


def delete_journey(journey: Journey) -> None:
    """Delete a journey nobody was enrolled in; one with history is archived instead, to keep its figures."""
    with transaction.atomic():
        if Enrolment.objects.filter(journey=journey).exists():
            raise JourneyError("journey", _("contacts went through this journey: archive it instead"))
        journey.delete()


def publish(journey: Journey, *, actor: User | None) -> JourneyVersion:
    """Make the draft graph a new version that new enrolments take, and set the journey live."""
    with transaction.atomic():
        locked = Journey.objects.select_for_update().get(pk=journey.pk)
        if locked.status == Journey.Status.ARCHIVED:
            raise JourneyError("status", _("an archived journey cannot be published"))
        if not graphs.start_of(locked.graph):
            raise JourneyError("graph", _("add at least one step"))
        problems = check_graph(locked.graph)
        if problems:
            raise JourneyError("graph", "; ".join(map(str, problems)), problems)
        latest = locked.versions.aggregate(n=Max("number"))["n"] or 0
        version = JourneyVersion.objects.create(
            journey=locked, number=latest + 1, graph=locked.graph, created_at=clock.now(), created_by=actor
        )
        locked.live_version, locked.status, locked.updated_at = version, Journey.Status.LIVE, clock.now()
        locked.save(update_fields=["live_version", "status", "updated_at"])
    journey.live_version, journey.status = version, locked.status
    return version


def set_status(journey: Journey, status: str, *, actor: User | None) -> Journey:
    """Pause (enrolments stop where they are), resume (they go on, late timers first), or archive (they exit)."""
    if status not in (Journey.Status.LIVE, Journey.Status.PAUSED, Journey.Status.ARCHIVED):
        raise JourneyError("status", _("live, paused or archived"))
    with transaction.atomic():
        locked = Journey.objects.select_for_update().get(pk=journey.pk)
        if status == Journey.Status.LIVE and locked.live_version_id is None:
            raise JourneyError("status", _("publish the journey first"))
        if locked.status == Journey.Status.ARCHIVED and status != Journey.Status.ARCHIVED:
            raise JourneyError("status", _("an archived journey stays archived"))
        if status == Journey.Status.ARCHIVED:
            finish(Enrolment.objects.filter(journey=locked), Enrolment.Status.EXITED, "archived")
        locked.status, locked.updated_at = status, clock.now()
        locked.save(update_fields=["status", "updated_at"])
        log.info("journey %s set %s by %s", locked.pk, status, actor)
    journey.status = status
    return journey


# --- enrolling -------------------------------------------------------------------------------------------------


def enrol(
    journey: Journey,
    contact_ids: Iterable[int],
    *,
    data: Mapping[int, dict[str, Any]] | None = None,
    source: str = "manual",
) -> list[Enrolment]:
    """Enrol contacts in the journey's live version, starting now; returns the enrolments made.

    Skipped: merged contacts, contacts already on the journey, those the re-enrolment rule keeps out, and those
    that already meet the goal. The contacts are locked first, so two captures cannot enrol one person twice.
    """
    if journey.live_version_id is None or journey.status not in (Journey.Status.LIVE, Journey.Status.PAUSED):
        raise JourneyError("journey", _("the journey is not live"))
    version = journey.live_version
    start = graphs.start_of(version.graph) if version else None
    if version is None or start is None:
        raise JourneyError("journey", _("the journey is not live"))
    now = clock.now()
    made: list[Enrolment] = []
    with transaction.atomic():
        for chunk in _chunks(sorted(set(contact_ids))):
            live = Contact.objects.select_for_update().filter(pk__in=chunk, merged_into__isnull=True).order_by("pk")
            ids = list(live.values_list("pk", flat=True))
            allowed = _may_enrol(journey, ids, now)
            if journey.goal and allowed:
                allowed -= set(Contact.objects.filter(pk__in=allowed).filter(contact_q(journey.goal))
                               .values_list("pk", flat=True))  # fmt: skip
            rows = [
                Enrolment(journey=journey, version=version, contact_id=c, step=start, next_due_at=now, entered_at=now,
                          data={"source": source, **((data or {}).get(c) or {})})
                for c in sorted(allowed)
            ]  # fmt: skip
            made += Enrolment.objects.bulk_create(rows)
    return made


def _may_enrol(journey: Journey, ids: list[int], now: datetime) -> set[int]:
    if not ids:
        return set()
    past = (
        Enrolment.objects.filter(journey=journey, contact_id__in=ids).values("contact_id")
        .annotate(last=Max("entered_at"), open=Count("pk", filter=Q(status__in=Enrolment.OPEN)))
    )  # fmt: skip
    allowed = set(ids)
    for row in past:
        if row["open"] or journey.reenrol == Journey.Reenrol.NEVER:
            allowed.discard(row["contact_id"])
        elif journey.reenrol == Journey.Reenrol.AFTER_DAYS:
            if row["last"] > now - timedelta(days=journey.reenrol_days or 0):
                allowed.discard(row["contact_id"])
    return allowed


def enrol_segment(journey: Journey, segment: Segment) -> list[Enrolment]:
    """Enrol a segment's members as of now (a dynamic segment's live members, a list's rows)."""
    from nurture.segments.actions import live_contacts, members

    ids = list(members(segment, live_contacts()).values_list("pk", flat=True))
    return enrol(journey, ids, data={c: {"segment": segment.pk} for c in ids}, source="segment")


def move_enrolments(journey: Journey, from_version: JourneyVersion, to_version: JourneyVersion,
                    step_map: Mapping[str, str]) -> int:  # fmt: skip
    """Move the open enrolments of one version to another, each to the step `step_map` names for its current
    one (every current step must be mapped). A contact waiting on a step of the same kind keeps its timer; the
    others go on at the new step now. Step visits are kept, so no message key is used twice."""
    if from_version.journey_id != journey.pk or to_version.journey_id != journey.pk:
        raise JourneyError("version", _("both versions must be of this journey"))
    target_steps = to_version.graph["steps"]
    unknown = sorted(t for t in step_map.values() if t not in target_steps)
    if unknown:
        raise JourneyError("step_map", _("no step %(ids)s in version %(n)d") % {"ids": ", ".join(unknown),
                                                                                "n": to_version.number})  # fmt: skip
    now = clock.now()
    with transaction.atomic():
        rows = list(Enrolment.objects.select_for_update().filter(version=from_version, status__in=Enrolment.OPEN))
        missing = sorted({e.step for e in rows} - set(step_map))
        if missing:
            raise JourneyError("step_map", _("map the steps %(ids)s too") % {"ids": ", ".join(missing)})
        old_steps = from_version.graph["steps"]
        for e in rows:
            new = step_map[e.step]
            same_wait = (
                e.status == Enrolment.Status.WAITING
                and old_steps.get(e.step, {}).get("type") == target_steps[new]["type"]
            )
            e.version, e.step = to_version, new
            if not same_wait:
                e.status, e.next_due_at, e.wait_event, e.woken_by = Enrolment.Status.ACTIVE, now, "", None
        Enrolment.objects.bulk_update(rows, ["version", "step", "status", "next_due_at", "wait_event", "woken_by"])
    return len(rows)


def finish(enrolments: QuerySet[Enrolment], status: str, reason: str) -> int:
    """Close open enrolments (exited, converted) where they are; the engine's rows are left to it."""
    running = RUNNING.get()
    qs = enrolments.filter(status__in=Enrolment.OPEN)
    if running:
        qs = qs.exclude(pk__in=running)
    return qs.update(status=status, finished_at=clock.now(), next_due_at=None, exit_reason=reason[:200])


def exit_contact(contact: Contact, journey: Journey, *, actor: User | None) -> int:
    """Take a contact out of a journey by hand."""
    reason = _("removed by %(user)s") % {"user": actor.display_name} if actor else _("removed by hand")
    return finish(Enrolment.objects.filter(journey=journey, contact=contact), Enrolment.Status.EXITED, reason)


# --- hooks: called inside the transactions that change contacts ----------------------------------------------


@dataclass(frozen=True)
class _Held:
    live: list[Journey]
    with_goal: bool  # does any journey (live, paused) have a goal its enrolments can reach


def _held() -> _Held:
    """Every capture asks: held per process until a journey or version changes (core.revisions)."""

    def build() -> _Held:
        journeys = list(Journey.objects.exclude(status=Journey.Status.ARCHIVED).select_related("live_version"))
        live = [j for j in journeys if j.status == Journey.Status.LIVE]
        return _Held(live, any(j.goal for j in journeys))

    return revisions.snapshot("journeys", build)


def live_journeys() -> list[Journey]:
    """The live journeys, as held (shared: not to be changed)."""
    return _held().live


def _matching(contact_ids: Iterable[int], condition: Mapping[str, Any] | None) -> set[int]:
    ids = sorted(set(contact_ids))
    if not condition:
        return set(ids)
    found: set[int] = set()
    for chunk in _chunks(ids):
        found.update(Contact.objects.filter(pk__in=chunk).filter(contact_q(condition)).values_list("pk", flat=True))
    return found


def _enrol_quietly(journey: Journey, contact_ids: Iterable[int], data: Mapping[int, dict[str, Any]],
                   source: str) -> None:  # fmt: skip
    """A trigger fired: enrol whoever the trigger's filter lets through."""
    ids = _matching(contact_ids, journey.trigger.get("filter"))
    if ids:
        enrol(journey, ids, data=data, source=source)


def on_events(events: Sequence[Event], *, new_contact_ids: Set[int] = frozenset()) -> None:
    """Events were recorded: wake enrolments waiting for them, exit the unsubscribed, start event and segment
    triggered journeys. `new_contact_ids`: contacts created in this transaction, which no enrolment can be
    waiting for (enrol starts them active; only the engine, in a later transaction, makes one wait)."""
    if not events:
        return
    _wake([e for e in events if e.contact_id not in new_contact_ids])
    unsubscribed = [e for e in events if e.type == UNSUBSCRIBED]
    if unsubscribed:
        _exit_unsubscribed(unsubscribed)
    for journey in live_journeys():
        trigger = journey.trigger
        if trigger.get("type") == "event":
            fired = [e for e in events if e.type == trigger["event"]]
            if fired and trigger.get("where"):
                fired = _events_matching(fired, trigger["where"])
        elif trigger.get("type") == "segment":
            fired = [e for e in events if e.type == Event.Type.SEGMENT_ENTERED and e.data.get("segment") ==
                     trigger["segment"]]  # fmt: skip
        else:
            continue
        if fired:
            data = {e.contact_id: {"event_id": e.pk, "event_type": e.type, "event": e.data} for e in fired}
            _enrol_quietly(journey, list(data), data, trigger["type"])


def _events_matching(events: Sequence[Event], where: Any) -> list[Event]:
    ids = set(Event.objects.filter(pk__in=[e.pk for e in events]).filter(event_q(where)).values_list("pk", flat=True))
    return [e for e in events if e.pk in ids]


def _wake(events: Sequence[Event]) -> None:
    """Waiting enrolments whose event came: due now, with the event that ended the wait."""
    by_contact: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_contact[event.contact_id].append(event)
    types = sorted({e.type for e in events})
    contacts = sorted(by_contact)
    waiting: list[Enrolment] = []
    for chunk in _chunks(contacts):
        waiting += Enrolment.objects.filter(
            status=Enrolment.Status.WAITING, wait_event__in=types, contact_id__in=chunk, woken_by__isnull=True
        ).exclude(pk__in=RUNNING.get())
    if not waiting:
        return
    graphs_of = dict(JourneyVersion.objects.filter(pk__in={e.version_id for e in waiting}).values_list("pk", "graph"))
    now = clock.now()
    for enrolment in waiting:
        step = graphs_of[enrolment.version_id]["steps"].get(enrolment.step, {})
        candidates = [e for e in by_contact[enrolment.contact_id] if e.type == enrolment.wait_event]
        if step.get("where"):
            candidates = _events_matching(candidates, step["where"])
        if candidates:
            Enrolment.objects.filter(pk=enrolment.pk, status=Enrolment.Status.WAITING, woken_by__isnull=True).update(
                woken_by=candidates[0].pk, next_due_at=now
            )


def _exit_unsubscribed(events: Sequence[Event]) -> None:
    """A contact unsubscribed: they leave journeys that send only on channels they have now all left."""
    from nurture.messaging.actions import consents

    contact_ids = {e.contact_id for e in events}
    open_ = Enrolment.objects.filter(
        contact_id__in=contact_ids, status__in=Enrolment.OPEN, journey__exit_on_unsubscribe=True
    ).select_related("version")
    granted = consents(contact_ids, ALL_CHANNELS)
    for enrolment in open_:
        used = graphs.channels(enrolment.version.graph) or ALL_CHANNELS
        if not any(granted[(enrolment.contact_id, channel)] for channel in used):
            finish(Enrolment.objects.filter(pk=enrolment.pk), Enrolment.Status.EXITED, "unsubscribed")


def on_contacts_changed(contact_ids: Iterable[int]) -> None:
    """Contacts changed: those who reached a goal convert; those who reached a score band enter its journeys."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    check_goals(ids)
    for journey in live_journeys():
        if journey.trigger.get("type") == "score_band":
            reached: list[int] = []
            for chunk in _chunks(ids):
                reached += Contact.objects.filter(pk__in=chunk, band=journey.trigger["band"]).values_list(
                    "pk", flat=True
                )
            _enrol_quietly(journey, reached, {}, "score_band")


def check_goals(contact_ids: Sequence[int]) -> int:
    """Open enrolments whose contact meets its journey's goal convert, wherever they are."""
    converted = 0
    if not _held().with_goal:
        return 0
    for chunk in _chunks(contact_ids):
        open_ = (
            Enrolment.objects.filter(contact_id__in=chunk, status__in=Enrolment.OPEN)
            .exclude(journey__goal={}).exclude(pk__in=RUNNING.get())
            .values_list("journey_id", "contact_id")
        )  # fmt: skip
        by_journey: dict[int, set[int]] = defaultdict(set)
        for journey_id, contact_id in open_:
            by_journey[journey_id].add(contact_id)
        goals = dict(Journey.objects.filter(pk__in=by_journey).values_list("pk", "goal"))
        for journey_id, contacts in by_journey.items():
            met = _matching(contacts, goals[journey_id])
            if met:
                converted += finish(
                    Enrolment.objects.filter(journey_id=journey_id, contact_id__in=met),
                    Enrolment.Status.CONVERTED, "goal reached",
                )  # fmt: skip
    return converted


def on_stage_entered(contact_ids: Iterable[int], stage: Stage) -> None:
    for journey in live_journeys():
        if journey.trigger.get("type") == "stage" and journey.trigger["stage"] == stage.key:
            _enrol_quietly(journey, contact_ids, {}, "stage")


def on_merged(merges: Sequence[Merge]) -> None:
    """Merged contacts' enrolments moved to the survivor (identity's merge moves every row): where that left the
    survivor twice on one journey, it goes on once, in its own enrolment if it had one, and the other exits."""
    label = f"{Enrolment._meta.label_lower}.contact"
    for merge in merges:
        moved = set(merge.moved.get(label, []))
        open_ = Enrolment.objects.filter(contact_id=merge.survivor_id, status__in=Enrolment.OPEN)
        by_journey: dict[int, list[Enrolment]] = defaultdict(list)
        for enrolment in open_.order_by("entered_at", "pk"):
            by_journey[enrolment.journey_id].append(enrolment)
        for enrolments in by_journey.values():
            if len(enrolments) > 1:
                keep = next((e for e in enrolments if e.pk not in moved), enrolments[0])
                extra = [e.pk for e in enrolments if e.pk != keep.pk]
                finish(Enrolment.objects.filter(pk__in=extra), Enrolment.Status.EXITED, "merged: duplicate")


# --- the daily date trigger ------------------------------------------------------------------------------------


def run_date_triggers(day: date) -> int:
    """Enrol the contacts whose date field falls on `day` (+ each journey's days before): birthdays every year,
    a custom date ("repurchase due") on its date or, annual, every year. A second run on one day adds nobody."""
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    total = 0
    for journey in live_journeys():
        trigger = journey.trigger
        if trigger.get("type") != "date":
            continue
        target = day + timedelta(days=trigger.get("days_before", 0))
        field = trigger["field"]
        lookup = field if field == "birth_date" else "custom_fields__" + field.removeprefix("custom.")
        if not trigger.get("annual"):
            q = Q(**{lookup: target if field == "birth_date" else target.isoformat()})
        elif field == "birth_date":
            q = Q(birth_date__month=target.month, birth_date__day=target.day)
            if (target.month, target.day) == (2, 28) and not _leap(target.year):
                q |= Q(birth_date__month=2, birth_date__day=29)  # born on 29 February: celebrated on the 28th
        else:
            q = Q(**{f"{lookup}__endswith": target.strftime("-%m-%d")})
        today = Enrolment.objects.filter(journey=journey, entered_at__gte=start).values("contact_id")
        due = Contact.objects.filter(q, merged_into__isnull=True).exclude(pk__in=today)
        ids = list(due.values_list("pk", flat=True))
        with transaction.atomic():
            total += len(enrol(journey, ids, data={c: {"date": target.isoformat()} for c in ids}, source="date"))
    return total


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
