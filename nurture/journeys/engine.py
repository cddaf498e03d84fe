"""The step runner: workers claim due enrolments in batches and walk each through its steps until a wait or the
end, in one transaction per batch.

Durability: a step's effects (messages, notices, tag rows, jobs), its StepRun row and the enrolment's new
position commit together or not at all. A worker killed at any moment leaves the batch as it was claimed; the
next claim runs it again, and as nothing of the first try was kept, nothing happens twice. Messages are keyed
`journey:<enrolment>:<step>:<visit>` besides (messaging's send returns the first message for a key).

Speed: a batch advances in rounds. Each round groups the enrolments by (version, step) and runs a group with
set-based calls where the action allows it (a branch is one query for the whole group, tags one statement);
goals are one query per journey and round. A group runs in a savepoint; when it fails, its enrolments are run
one by one, so one bad contact is retried with back-off (and in the end marked failed) without holding up
the others.

Locks (PostgreSQL): enrolments are claimed with SKIP LOCKED, then their contacts are locked with SKIP LOCKED
too; an enrolment whose contact another transaction holds waits for a later batch. Captures lock contacts
before they touch enrolments, so the engine never waits for a capture that waits for it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from nurture.contacts.conditions import contact_q
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.journeys import graph as graphs
from nurture.journeys.actions import RUNNING, JourneyError, enrol
from nurture.journeys.models import Enrolment, Journey, JourneyVersion, StepRun

if TYPE_CHECKING:
    from nurture.accounts.models import User
    from nurture.notifications.actions import Notice

log = logging.getLogger(__name__)

BATCH = 500
ROUNDS = 50  # steps one enrolment may take in one batch; a longer walk goes on in the next batch
MAX_ATTEMPTS = 5
RETRY_SECONDS = 60  # doubled on each failed attempt: 1, 2, 4, 8 minutes
WEBHOOK_JOB = "journeys.webhook"
SAVED_FIELDS = ["status", "step", "visits", "next_due_at", "wait_event", "woken_by", "finished_at", "exit_reason",
                "attempts", "last_error"]  # fmt: skip


@dataclass
class Go:
    """The step ran: record it and go on to `to` (None: the journey is complete)."""

    to: str | None
    outcome: str = "done"
    detail: dict[str, Any] = field(default_factory=dict)
    end: str = ""  # an exit step ends the journey here, with this reason


@dataclass
class Hold:
    """Not yet: look again at `until` (None: only when an event wakes it)."""

    until: datetime | None
    waiting: bool = True
    wait_event: str = ""


@dataclass
class Retry:
    error: str


Result = Go | Hold | Retry
Member = tuple[Enrolment, Contact]


def process_due_enrolments() -> bool:
    """The worker step (core.worker.STEPS)."""
    return run_due(settings.NURTURE_JOURNEY_BATCH) > 0


def run_due(limit: int = BATCH) -> int:
    """Claim up to `limit` due enrolments of live journeys and advance each as far as it goes now; returns how
    many were claimed (0: nothing was due)."""
    now = clock.now()
    live = list(Journey.objects.filter(status=Journey.Status.LIVE).values_list("pk", flat=True))
    if not live:
        return 0
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        due = Enrolment.objects.filter(status__in=Enrolment.OPEN, next_due_at__lte=now, journey_id__in=live)
        if skip_locked:
            due = due.select_for_update(skip_locked=True)
        batch = list(due.order_by("next_due_at")[:limit])
        if not batch:
            return 0
        contacts = Contact.objects.select_related("owner")
        if skip_locked:
            contacts = contacts.select_for_update(skip_locked=True, of=("self",))
        held = contacts.in_bulk(sorted({e.contact_id for e in batch}))
        return Runner([e for e in batch if e.contact_id in held], held).run()


class Runner:
    """Advances a batch of enrolments (claimed and locked by the caller) inside the caller's transaction."""

    def __init__(self, batch: Sequence[Enrolment], contacts: dict[int, Contact]) -> None:
        self.batch = list(batch)
        self.contacts = contacts
        self.journeys = Journey.objects.in_bulk({e.journey_id for e in self.batch})
        self.graphs = dict(
            JourneyVersion.objects.filter(pk__in={e.version_id for e in self.batch}).values_list("pk", "graph")
        )
        self.runs: list[StepRun] = []
        # One clock reading per batch: enrolments that end or move together share one state (one UPDATE in _save).
        self.now = clock.now()
        self.stale: set[int] = set()  # contacts a step changed: read again before the next round

    def run(self) -> int:
        token = RUNNING.set(frozenset(e.pk for e in self.batch))
        try:
            active = self.batch
            for _round in range(ROUNDS):
                if not active:
                    break
                self._refresh_contacts()
                active = self._round(self._unconverted(active))
            for enrolment in active:  # still walking after ROUNDS steps: the next batch goes on
                enrolment.next_due_at = self.now
            StepRun.objects.bulk_create(self.runs)
            self._save()
        finally:
            RUNNING.reset(token)
        return len(self.batch)

    def _save(self) -> None:
        """One UPDATE per distinct new state: enrolments walking a journey together end in the same few states,
        and this is much faster than bulk_update's CASE per row and column."""
        groups: dict[str, list[int]] = defaultdict(list)
        for e in self.batch:
            groups[json.dumps([getattr(e, f) for f in SAVED_FIELDS], default=str, sort_keys=True)].append(e.pk)
        first = {e.pk: e for e in self.batch}
        for ids in groups.values():
            e = first[ids[0]]
            Enrolment.objects.filter(pk__in=ids).update(**{f: getattr(e, f) for f in SAVED_FIELDS})

    def _refresh_contacts(self) -> None:
        if self.stale:
            self.contacts.update(Contact.objects.select_related("owner").in_bulk(sorted(self.stale)))
            self.stale.clear()

    def _unconverted(self, active: list[Enrolment]) -> list[Enrolment]:
        """The goal is checked before every step: those who meet it convert where they are."""
        by_journey: dict[int, list[Enrolment]] = defaultdict(list)
        for enrolment in active:
            if self.journeys[enrolment.journey_id].goal:
                by_journey[enrolment.journey_id].append(enrolment)
        converted: set[int] = set()
        for journey_id, enrolments in by_journey.items():
            ids = [e.contact_id for e in enrolments]
            met = set(Contact.objects.filter(pk__in=ids).filter(contact_q(self.journeys[journey_id].goal))
                      .values_list("pk", flat=True))  # fmt: skip
            for enrolment in enrolments:
                if enrolment.contact_id in met:
                    self._close(enrolment, Enrolment.Status.CONVERTED, "goal reached")
                    converted.add(enrolment.pk)
        return [e for e in active if e.pk not in converted]

    def _round(self, active: list[Enrolment]) -> list[Enrolment]:
        groups: dict[tuple[int, str], list[Member]] = defaultdict(list)
        for enrolment in active:
            groups[(enrolment.version_id, enrolment.step)].append((enrolment, self.contacts[enrolment.contact_id]))
        going: list[Enrolment] = []
        for (version_id, step_id), members in groups.items():
            graph = self.graphs[version_id]
            step = graph["steps"].get(step_id)
            if step is None:  # a version is immutable, so only a bad move could do this
                for enrolment, _contact in members:
                    self._close(enrolment, Enrolment.Status.FAILED, f"no step {step_id!r} in its version")
                continue
            results = self._run_group(graph, step_id, step, members)
            for enrolment, _contact in members:
                if self._apply(enrolment, graph, step_id, results[enrolment.pk]):
                    going.append(enrolment)
        return going

    def _run_group(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                   members: list[Member]) -> dict[int, Result]:  # fmt: skip
        handler: Callable[..., dict[int, Result]] = getattr(self, "_" + step["type"])
        try:
            with transaction.atomic():
                return handler(graph, step_id, step, members)
        except Exception as exc:  # noqa: BLE001 - a failing step is retried, never allowed to stop the batch
            if len(members) == 1:
                log.exception("journey step %s failed for enrolment %s", step_id, members[0][0].pk)
                return {members[0][0].pk: Retry(f"{type(exc).__name__}: {exc}")}
        results: dict[int, Result] = {}
        for member in members:
            results.update(self._run_group(graph, step_id, step, [member]))
        return results

    def _apply(self, enrolment: Enrolment, graph: dict[str, Any], step_id: str, result: Result) -> bool:
        """Record what the step did (at the real time); returns whether the enrolment goes on in this batch."""
        now = self.now
        if isinstance(result, Retry):
            enrolment.attempts += 1
            enrolment.last_error = result.error[:2000]
            if enrolment.attempts >= MAX_ATTEMPTS:
                self._close(enrolment, Enrolment.Status.FAILED, _("failed at step %(step)s") % {"step": step_id})
            else:
                enrolment.next_due_at = now + timedelta(seconds=RETRY_SECONDS * 2 ** (enrolment.attempts - 1))
            return False
        if isinstance(result, Hold):
            enrolment.status = Enrolment.Status.WAITING if result.waiting else Enrolment.Status.ACTIVE
            enrolment.next_due_at, enrolment.wait_event = result.until, result.wait_event
            return False
        visit = enrolment.visits.get(step_id, 0) + 1
        enrolment.visits = {**enrolment.visits, step_id: visit}
        self.runs.append(StepRun(enrolment=enrolment, journey_id=enrolment.journey_id, step=step_id, visit=visit,
                                 at=clock.now(), outcome=result.outcome[:20], detail=result.detail))  # fmt: skip
        enrolment.attempts, enrolment.last_error, enrolment.wait_event, enrolment.woken_by = 0, "", "", None
        if result.end or result.to is None:
            self._close(enrolment, Enrolment.Status.COMPLETED, result.end)
            return False
        enrolment.step, enrolment.status, enrolment.next_due_at = result.to, Enrolment.Status.ACTIVE, now
        return True

    def _close(self, enrolment: Enrolment, status: str, reason: str) -> None:
        enrolment.status, enrolment.exit_reason = status, reason[:200]
        enrolment.finished_at, enrolment.next_due_at = self.now, None

    # --- the steps: each takes one group (same version and step) and returns a result per enrolment ---------

    @staticmethod
    def key(enrolment: Enrolment, step_id: str) -> str:
        return f"journey:{enrolment.pk}:{step_id}:{enrolment.visits.get(step_id, 0) + 1}"

    def _next(self, graph: dict[str, Any], step_id: str, members: list[Member], **go: Any) -> dict[int, Result]:
        to = graphs.next_of(graph, step_id)
        return {e.pk: Go(to, **go) for e, _c in members}

    def _send(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        from nurture.messaging.actions import Outgoing, quiet_until, send_many
        from nurture.messaging.models import Template

        channel = graphs.SEND_CHANNEL[step["type"]]
        template = Template.objects.filter(pk=step["template"]).first()
        now = clock.now()
        # A group is one version's step, so one journey.
        journey = self.journeys[members[0][0].journey_id]
        until = quiet_until(channel, now) if journey.quiet_hours else now
        if until > now:
            # Held at the step rather than sent early or left behind: what follows counts from the send.
            return {e.pk: Hold(until, waiting=False) for e, _c in members}
        outgoing = [
            Outgoing(contact, self.key(enrolment, step_id),
                     {"journey": journey.name, "event": enrolment.data.get("event", {})})
            for enrolment, contact in members
        ]  # fmt: skip
        messages = send_many(outgoing, channel=channel, template=template, origin=f"journey:{journey.pk}",
                             fallback=step.get("fallback", "skip"))  # fmt: skip
        to = graphs.next_of(graph, step_id)
        return {
            enrolment.pk: Go(to, m.status, {"message": m.pk, "status": m.status, "reason": m.reason})
            for (enrolment, _contact), m in zip(members, messages, strict=True)
        }

    _send_email = _send_sms = _send_zalo = _send

    def _notify_owner(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                      members: list[Member]) -> dict[int, Result]:  # fmt: skip
        from nurture.notifications.actions import Notice
        from nurture.notifications.models import Notification

        return self._tell_owners(graph, step_id, members, lambda enrolment, contact, owner: Notice(
            owner, Notification.Kind.INFO, f"{step['title']}: {contact.display_name}",
            step.get("body", ""), contact, key=self.key(enrolment, step_id),
        ))  # fmt: skip

    def _call_task(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                   members: list[Member]) -> dict[int, Result]:  # fmt: skip
        """No tasks app yet: the owner gets a task notice with the script, and the timeline says so."""
        from nurture.notifications.actions import Notice
        from nurture.notifications.models import Notification

        def task(enrolment: Enrolment, contact: Contact, owner: User) -> Notice:
            journey = self.journeys[enrolment.journey_id]
            title = _("Call %(name)s (%(journey)s)") % {"name": contact.display_name, "journey": journey.name}
            return Notice(owner, Notification.Kind.TASK, title, step["script"], contact,
                          key=self.key(enrolment, step_id))  # fmt: skip

        results = self._tell_owners(graph, step_id, members, task)
        Event.objects.bulk_create(
            Event(contact=contact, type=Event.Type.TASK_CREATED, at=self.now, source="journeys",
                  data={"kind": "call", "owner_id": contact.owner_id, "script": step["script"],
                        "journey_id": enrolment.journey_id, "notification_id": result.detail["notification"]})
            for enrolment, contact in members
            if isinstance(result := results[enrolment.pk], Go) and "notification" in result.detail
        )  # fmt: skip
        return results

    def _tell_owners(self, graph: dict[str, Any], step_id: str, members: list[Member],
                     notice: Callable[[Enrolment, Contact, User], Notice]) -> dict[int, Result]:  # fmt: skip
        """One notice per contact to its owner, all in one notify_many; a contact nobody owns is skipped."""
        from nurture.notifications.actions import notify_many

        to = graphs.next_of(graph, step_id)
        owned = [(e, c, c.owner) for e, c in members if c.owner is not None]
        sent = notify_many([notice(e, c, owner) for e, c, owner in owned])
        results: dict[int, Result] = {e.pk: Go(to, "skipped", {"reason": "no owner"}) for e, _c in members}
        for (enrolment, _contact, _owner), made in zip(owned, sent, strict=True):
            results[enrolment.pk] = Go(to, "done", {"notification": made.pk})
        return results

    def _update_field(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                      members: list[Member]) -> dict[int, Result]:  # fmt: skip
        from nurture.contacts.actions import update_contact

        name, value = step["field"], step["value"]
        for _enrolment, contact in members:
            if name.startswith("custom."):
                changes = {"custom_fields": {**contact.custom_fields, name.removeprefix("custom."): value}}
            else:
                changes = {name: value}
            update_contact(contact, changes=changes, actor=None, source="journey")
            self.stale.add(contact.pk)
        return self._next(graph, step_id, members)

    def _tags(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        from nurture.contacts.actions import tag_contacts

        ids, tags = [c.pk for _e, c in members], [step["tag"]]
        if step["type"] == "add_tag":
            tag_contacts(ids, add=tags, source="journey")
        else:
            tag_contacts(ids, remove=tags, source="journey")
        return self._next(graph, step_id, members)

    _add_tag = _remove_tag = _tags

    def _change_stage(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                      members: list[Member]) -> dict[int, Result]:  # fmt: skip
        from nurture.contacts.actions import change_stage
        from nurture.lifecycle.actions import StageError
        from nurture.lifecycle.models import Stage, StageChange

        stage = Stage.objects.filter(stage_set__is_active=True, key=step["stage"]).first()
        results: dict[int, Result] = {}
        for enrolment, contact in members:
            if stage is None:
                results[enrolment.pk] = Go(graphs.next_of(graph, step_id), "skipped", {"reason": "no such stage"})
                continue
            journey = self.journeys[enrolment.journey_id]
            try:
                with transaction.atomic():
                    change_stage(contact, to_stage=stage, cause=StageChange.Cause.JOURNEY, reason=journey.name)
            except StageError as exc:  # a move the stage set forbids (backwards, a checklist item missing)
                results[enrolment.pk] = Go(graphs.next_of(graph, step_id), "skipped", {"reason": exc.message})
                continue
            self.stale.add(contact.pk)
            results[enrolment.pk] = Go(graphs.next_of(graph, step_id))
        return results

    def _add_points(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                    members: list[Member]) -> dict[int, Result]:  # fmt: skip
        """There is no manual entry in the scoring ledger: the step records an event the points rules score."""
        from nurture.contacts.actions import EventInput, record_events

        record_events([
            EventInput(contact_id=c.pk, type=step["event"], source="journeys",
                       data={"journey_id": e.journey_id, "step": step_id, **(step.get("data") or {})})
            for e, c in members
        ])  # fmt: skip
        self.stale.update(c.pk for _e, c in members)
        return self._next(graph, step_id, members)

    def _assign(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        """To the named rep, or (no rep named) by the routing rules to leads nobody owns yet."""
        from nurture.accounts.models import User
        from nurture.routing.actions import assign_new, reassign

        ids = [c.pk for _e, c in members]
        if step.get("user"):
            user = User.objects.get(username=step["user"], is_active=True)
            reassign(ids, user, actor=None, note=_("journey step %(step)s") % {"step": step_id})
        else:
            assign_new(ids)
        self.stale.update(ids)
        return self._next(graph, step_id, members)

    def _webhook(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        """A durable job POSTs the JSON after commit (at-least-once: the receiver dedupes by Idempotency-Key)."""
        from nurture.core.jobs import enqueue_many

        now = clock.now()
        jobs = [
            (self.key(e, step_id), {"url": step["url"], "enrolment_id": e.pk, "contact_id": c.pk, "step": step_id,
                                    "journey_id": e.journey_id, "key": self.key(e, step_id)}, now)
            for e, c in members
        ]  # fmt: skip
        enqueue_many(WEBHOOK_JOB, jobs)
        return self._next(graph, step_id, members)

    def _enrol(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        other = Journey.objects.select_related("live_version").filter(pk=step["journey"]).first()
        try:
            if other is None:
                raise JourneyError("journey", "deleted")
            made = {e.contact_id for e in enrol(other, [c.pk for _e, c in members], source="journey")}
        except JourneyError as exc:
            return self._next(graph, step_id, members, outcome="skipped", detail={"reason": exc.message})
        return {e.pk: Go(graphs.next_of(graph, step_id), "done" if c.pk in made else "skipped") for e, c in members}

    def _wait(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        until = clock.now() + graphs.wait_delta(step)
        return {e.pk: self._waited(graph, step_id, e) or Hold(until) for e, _c in members}

    def _wait_until(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                    members: list[Member]) -> dict[int, Result]:  # fmt: skip
        now = clock.now()
        return {
            e.pk: self._waited(graph, step_id, e)
            or Hold(graphs.next_weekday_time(now, step.get("weekday"), step["time"], graphs.contact_zone(c)))
            for e, c in members
        }

    @staticmethod
    def _waited(graph: dict[str, Any], step_id: str, enrolment: Enrolment) -> Go | None:
        """A waiting enrolment is claimed when its wait is over."""
        if enrolment.status == Enrolment.Status.WAITING:
            return Go(graphs.next_of(graph, step_id), "waited")
        return None

    def _wait_event(self, graph: dict[str, Any], step_id: str, step: dict[str, Any],
                    members: list[Member]) -> dict[int, Result]:  # fmt: skip
        now = clock.now()
        timeout = now + graphs.wait_delta(step["timeout"]) if step.get("timeout") else None
        results: dict[int, Result] = {}
        for enrolment, _contact in members:
            if enrolment.status != Enrolment.Status.WAITING:
                results[enrolment.pk] = Hold(timeout, wait_event=step["event"])
            elif enrolment.woken_by is not None:
                results[enrolment.pk] = Go(graphs.next_of(graph, step_id), "event", {"event": enrolment.woken_by})
            else:
                results[enrolment.pk] = Go(graphs.next_of(graph, step_id, "timeout_next"), "timeout")
        return results

    def _branch(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        ids = [c.pk for _e, c in members]
        yes = set(Contact.objects.filter(pk__in=ids).filter(contact_q(step["condition"])).values_list("pk", flat=True))
        return {e.pk: Go(step["yes"], "yes") if c.pk in yes else Go(step["no"], "no") for e, c in members}

    def _split(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        results: dict[int, Result] = {}
        for enrolment, _contact in members:
            arm = graphs.split_arm(step["arms"], enrolment.pk, step_id)
            results[enrolment.pk] = Go(arm["next"], str(arm["name"]))
        return results

    def _exit(
        self, graph: dict[str, Any], step_id: str, step: dict[str, Any], members: list[Member]
    ) -> dict[int, Result]:
        reason = step.get("reason") or _("exit step")
        return {e.pk: Go(None, "exit", end=reason) for e, _c in members}
