"""Lead routing: who gets a lead (inside the capture transaction), reassignment, and response SLAs.

A lead goes through the active rules in priority order; the first rule whose conditions hold and that has an
available rep with room picks one by its strategy. Reps who are off (working hours, leave, holidays: the
availability app) or full (capacity) are skipped, and the assignment records who was skipped and why. When
no rule can place the lead it waits in the fallback queue with the warning, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, Count, Max, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.accounts.models import Team, User
from nurture.availability.calendar import Availability, NoWorkingTime
from nurture.contacts.conditions import ConditionError, contact_q
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.jobs import KeyedJob, enqueue_kinds
from nurture.core.writes import bulk_update, insert
from nurture.lifecycle import stages
from nurture.lifecycle.models import Stage
from nurture.notifications.actions import Notice, notify, notify_many
from nurture.routing import config
from nurture.routing.models import Assignment, AssignmentRule, Capacity, RuleMember, SlaPolicy

SLA_STEPS = ("remind", "breach", "reclaim")


class RoutingError(ValueError):
    """A refused rule, policy or assignment; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- rules ------------------------------------------------------------------------------------------


def _check_conditions(conditions: Any) -> None:
    if conditions in (None, {}, []):
        return
    try:
        contact_q(conditions)
    except ConditionError as exc:
        raise RoutingError("conditions", str(exc)) from exc


def save_rule(
    rule: AssignmentRule | None, data: Mapping[str, Any], members: Sequence[tuple[User, int]]
) -> AssignmentRule:
    """Create or change a rule. `members`: (user, weight) in rotation order; a team adds its reps too.

    A rule must reach somebody: a deleted or disabled user, or an empty team with no other members, is refused.
    """
    if not str(data.get("name") or "").strip():
        raise RoutingError("name", _("A rule needs a name."))
    _check_conditions(data.get("conditions"))
    strategy = data.get("strategy", AssignmentRule.Strategy.ROUND_ROBIN)
    if strategy not in AssignmentRule.Strategy.values:
        raise RoutingError("strategy", _("Unknown strategy."))
    for user, weight in members:
        if not user.is_active:
            raise RoutingError("members", _("%(user)s is disabled.") % {"user": user.display_name})
        if weight < 1:
            raise RoutingError("members", _("A weight is a whole number of at least 1."))
    team: Team | None = data.get("team")
    if not members and (team is None or not config.team_reps([team.pk])):
        raise RoutingError("members", _("Choose at least one rep, or a team with active members."))
    now = clock.now()
    with transaction.atomic():
        rule = rule or AssignmentRule(created_at=now)
        for name in ("name", "priority", "conditions", "on_stage", "team", "strategy", "is_active"):
            if name in data:
                setattr(rule, name, data[name])
        rule.name = rule.name.strip()
        rule.conditions = rule.conditions or {}
        rule.updated_at = now
        rule.save()
        kept = {m.user_id: m for m in rule.members.all()}
        rule.members.exclude(user__in=[u for u, _ in members]).delete()
        for position, (user, weight) in enumerate(members):
            member = kept.get(user.pk) or RuleMember(rule=rule, user=user)
            member.position, member.weight = position, weight
            member.save()
    return rule


def set_capacity(user: User, *, max_per_day: int | None, max_open: int | None) -> Capacity:
    for name, value in (("max_per_day", max_per_day), ("max_open", max_open)):
        if value is not None and value < 0:
            raise RoutingError(name, _("A limit cannot be negative."))
    capacity, _created = Capacity.objects.update_or_create(
        user=user, defaults={"max_per_day": max_per_day, "max_open": max_open}
    )
    return capacity


def save_policy(policy: SlaPolicy | None, data: Mapping[str, Any]) -> SlaPolicy:
    if not str(data.get("name") or "").strip():
        raise RoutingError("name", _("A policy needs a name."))
    _check_conditions(data.get("conditions"))
    minutes = data.get("first_response_minutes")
    if not isinstance(minutes, int) or minutes < 1:
        raise RoutingError("first_response_minutes", _("At least one minute."))
    if data.get("remind_before_minutes", 0) >= minutes:
        raise RoutingError("remind_before_minutes", _("The reminder must come before the deadline."))
    reclaim = data.get("reclaim_after_minutes")
    if reclaim is not None and reclaim < minutes:
        raise RoutingError("reclaim_after_minutes", _("Reclaim comes at or after the deadline."))
    policy = policy or SlaPolicy()
    for name, value in data.items():
        setattr(policy, name, value)
    policy.conditions = policy.conditions or {}
    policy.save()
    return policy


# --- choosing a rep ---------------------------------------------------------------------------------


@dataclass
class Workload:
    open_leads: int = 0
    today: int = 0
    last_at: datetime | None = None


@dataclass
class Candidate:
    member: RuleMember
    load: Workload


@dataclass
class Choice:
    user: User | None
    rule: AssignmentRule | None
    reason: dict[str, Any] = field(default_factory=dict)


def matching(
    contacts: Sequence[Contact], items: Sequence[config.Rule] | Sequence[config.Policy]
) -> dict[int, set[int]]:
    """The pks of the rules (or policies) whose conditions each contact meets: in memory, and in one query for
    those whose conditions need the database."""
    found = {c.pk: {item.row.pk for item in items if item.test is not None and item.test(c)} for c in contacts}
    flags = {
        f"m{item.row.pk}": Case(When(contact_q(item.row.conditions), then=Value(True)), default=Value(False))
        for item in items
        if item.test is None
    }
    if flags and contacts:
        rows = Contact.objects.filter(pk__in=[c.pk for c in contacts]).annotate(**flags).values_list("pk", *flags)
        for contact_id, *hits in rows:
            found[contact_id].update(int(name[1:]) for name, hit in zip(flags, hits, strict=True) if hit)
    return found


def _load(rules: Iterable[config.Rule], now: datetime) -> dict[int, Workload]:
    """The workload of these rules' reps, counting only what their strategies and caps look at (none of it for
    round-robin and weighted rules without caps): open leads, and leads assigned today with the last one."""
    members = [m for rule in rules for m in rule.members]
    loads = {m.user.pk: Workload() for m in members}
    capacities = [getattr(m.user, "capacity", None) for m in members]
    fewest_open = [m.user.pk for rule in rules if rule.row.strategy == AssignmentRule.Strategy.FEWEST_OPEN
                   for m in rule.members]  # fmt: skip
    open_capped = [m.user.pk for m, cap in zip(members, capacities, strict=True) if cap and cap.max_open is not None]
    day_capped = [m.user.pk for m, cap in zip(members, capacities, strict=True) if cap and cap.max_per_day is not None]
    if ids := sorted(set(fewest_open + open_capped)):
        open_counts = (
            Contact.objects.filter(owner_id__in=ids, merged_into__isnull=True, stage_id__in=stages.open_stage_ids())
            .values_list("owner_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for user_id, n in open_counts:
            loads[user_id].open_leads = n
    if ids := sorted(set(fewest_open + day_capped)):
        # Today's rows only, on the (user, at) index: the whole history grows with every lead.
        midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        today = Assignment.objects.filter(user_id__in=ids, at__gte=midnight).values_list("user_id")
        for user_id, n, last in today.annotate(n=Count("pk"), last=Max("at")).order_by():
            loads[user_id].today, loads[user_id].last_at = n, last
    if earlier := sorted({u for u in fewest_open if loads[u].last_at is None}):
        # Fewest-open breaks a tie by the longest wait: a rep with no lead today waits since their last one.
        latest = Assignment.objects.filter(user_id=OuterRef("pk")).order_by("-at").values("at")[:1]
        for user_id, last in User.objects.filter(pk__in=earlier).values_list("pk", Subquery(latest)):
            loads[user_id].last_at = last
    return loads


def _skip_reason(candidate: Candidate, availability: Availability, now: datetime) -> str:
    user, load = candidate.member.user, candidate.load
    if not user.is_active:
        return _("account disabled")
    available, why = availability.is_available(user, now)
    if not available:
        return why
    capacity: Capacity | None = getattr(user, "capacity", None)
    if capacity and capacity.max_per_day is not None and load.today >= capacity.max_per_day:
        return _("daily cap reached (%(n)s)") % {"n": capacity.max_per_day}
    if capacity and capacity.max_open is not None and load.open_leads >= capacity.max_open:
        return _("open leads cap reached (%(n)s)") % {"n": capacity.max_open}
    return ""


def pick(strategy: str, eligible: Sequence[Candidate], last_position: int | None) -> Candidate:
    """The strategy's choice among the eligible reps (given in rotation order)."""
    if strategy == AssignmentRule.Strategy.WEIGHTED:
        # The smallest share used relative to its weight: over many leads each rep's share tends to its weight.
        return min(eligible, key=lambda c: ((c.member.assigned + 1) / c.member.weight, c.member.position))
    if strategy == AssignmentRule.Strategy.FEWEST_OPEN:
        oldest = datetime.min.replace(tzinfo=timezone.get_current_timezone())
        return min(eligible, key=lambda c: (c.load.open_leads, c.load.last_at or oldest, c.member.position))
    # Round-robin: the first eligible rep after the place of the one who had the last lead, wrapping around.
    after = [c for c in eligible if last_position is not None and c.member.position > last_position]
    return after[0] if after else eligible[0]


def choose(
    contacts: Sequence[Contact],
    rules: Sequence[config.Rule],
    now: datetime,
    routing: config.Routing,
    *,
    exclude: Iterable[int] = (),
) -> dict[int, Choice]:
    """The rep for each contact: the rules' conditions tested, then the strategy per lead.

    A rule's rotation (its last rep, each rep's count) is read under the rule's lock, so parallel captures rotate
    it one at a time; the lock is taken as late as it can be, after the matching and the workloads. Only each
    lead's first matching rule is locked up front (a catch-all rule that matches every lead must not serialise
    all captures); a later rule is locked when a lead falls through to it. Locks are taken in rule order, the
    same in every transaction.
    """
    excluded = set(exclude)
    order = {rule.row.pk: i for i, rule in enumerate(rules)}
    by_pk = {rule.row.pk: rule for rule in rules}
    matches = {c: sorted(found, key=order.__getitem__) for c, found in matching(contacts, rules).items()}
    first = {found[0] for found in matches.values() if found}
    loads = _load([by_pk[pk] for pk in first], now)  # kept up to date below as this batch assigns
    rotation: dict[int, Rotation] = {}

    def lock(rule_ids: Iterable[int]) -> None:
        wanted = sorted(set(rule_ids) - rotation.keys(), key=order.__getitem__)
        if wanted:
            # One statement: the rules locked, with their members' counts (read under the lock: fresh).
            locked = (
                AssignmentRule.objects.select_for_update(of=("self",))
                .filter(pk__in=wanted)
                .order_by("priority", "id")
                .values_list("pk", "last_user", "members__pk", "members__user_id", "members__assigned")
            )
            for rule_id, last_user_id, pk, user_id, assigned in locked:
                turn = rotation.setdefault(rule_id, Rotation(last_user_id))
                if pk is not None:  # a rule of a team's reps has no member rows before their first lead
                    turn.rows[user_id] = pk
                    turn.assigned[user_id] = assigned

    lock(first)
    choices: dict[int, Choice] = {}
    for contact in contacts:
        tried: list[dict[str, Any]] = []
        for rule_id in matches[contact.pk]:
            rule = by_pk[rule_id]
            lock([rule_id])
            if {m.user.pk for m in rule.members} - loads.keys():  # a rule this lead fell through to
                loads.update(_load([rule], now))
            turn = rotation[rule_id]
            skipped, eligible = [], []
            for member in rule.members:
                if member.user.pk in excluded:
                    continue
                candidate = Candidate(
                    RuleMember(rule_id=rule_id, user=member.user, position=member.position, weight=member.weight,
                               assigned=turn.assigned.get(member.user.pk, 0)),
                    loads[member.user.pk],
                )  # fmt: skip
                why = _skip_reason(candidate, routing.availability, now)
                if why:
                    skipped.append({"user": member.user.display_name, "user_id": member.user.pk, "why": str(why)})
                else:
                    eligible.append(candidate)
            tried.append({"rule": rule.row.name, "rule_id": rule_id, "skipped": skipped})
            if not eligible:
                continue
            last = next((m.position for m in rule.members if m.user.pk == turn.last_user_id), None)
            chosen = pick(rule.row.strategy, eligible, last)
            turn.took(chosen.member)
            chosen.load.today, chosen.load.open_leads, chosen.load.last_at = (
                chosen.load.today + 1,
                chosen.load.open_leads + 1,
                now,
            )
            reason = {"rule": rule.row.name, "rule_id": rule_id, "strategy": rule.row.strategy, "skipped": skipped,
                      "earlier": tried[:-1]}  # fmt: skip
            choices[contact.pk] = Choice(chosen.member.user, rule.row, reason)
            break
        else:
            warning = _("Every rep of the matching rules is unavailable.") if tried else _("No rule matches this lead.")
            choices[contact.pk] = Choice(None, None, {"warning": warning, "earlier": tried})
    _save_rotation(rotation)
    return choices


@dataclass
class Rotation:
    """A locked rule's turn: who had its last lead, and how many leads each rep has had from it (with the ids
    of their member rows; a team's rep has none before their first lead from the rule)."""

    last_user_id: int | None
    assigned: dict[int, int] = field(default_factory=dict)
    rows: dict[int, int] = field(default_factory=dict)
    picked: dict[int, int] = field(default_factory=dict)  # user id → position, of the reps given leads here

    def took(self, member: RuleMember) -> None:
        """The rep had a lead from this rule (written once the batch is placed, by _save_rotation)."""
        user_id = member.user.pk
        self.last_user_id, self.assigned[user_id] = user_id, self.assigned.get(user_id, 0) + 1
        self.picked[user_id] = member.position


def _save_rotation(rotation: Mapping[int, Rotation]) -> None:
    """Each rule's last rep and its reps' counts, a few statements for the whole batch (the rules are locked)."""
    moved = {rule_id: turn for rule_id, turn in rotation.items() if turn.picked}
    if not moved:
        return
    bulk_update(
        [AssignmentRule(pk=rule_id, last_user_id=turn.last_user_id) for rule_id, turn in moved.items()], ["last_user"]
    )
    counts = [RuleMember(pk=turn.rows[u], assigned=turn.assigned[u]) for turn in moved.values() for u in turn.picked
              if u in turn.rows]  # fmt: skip
    bulk_update(counts, ["assigned"])
    RuleMember.objects.bulk_create(
        RuleMember(rule_id=rule_id, user_id=u, position=position, assigned=turn.assigned[u])
        for rule_id, turn in moved.items() for u, position in turn.picked.items() if u not in turn.rows
    )  # fmt: skip


# --- assigning --------------------------------------------------------------------------------------


def _routable(contact_ids: Iterable[int]) -> QuerySet[Contact]:
    """Contacts as the rules' conditions read them (company, stage and owner included), in id order."""
    return Contact.objects.filter(pk__in=list(contact_ids)).select_related("company", "stage", "owner").order_by("pk")


def _new_leads(contact_ids: Iterable[int]) -> list[Contact]:
    """Leads just captured, as _routable but without its joins, which were two fifths of its cost: no owner yet,
    the stage from the held stage set, and the company read only if a condition asks for it (most leads have
    none, and most rules ask other fields)."""
    contacts = Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk")
    # (owner IS NULL in Python: in SQL, the planner may scan the owner index)
    return stages.attach([c for c in contacts if c.owner_id is None], "stage")


def assign_new(contact_ids: Iterable[int]) -> list[Assignment]:
    """Route newly captured leads that have no owner yet (runs inside the capture transaction)."""
    routing = config.current()
    if not routing.capture_rules:
        return []  # routing not set up: leads stay unassigned, as before
    contacts = _new_leads(contact_ids)
    if not contacts:
        return []
    choices = choose(contacts, routing.capture_rules, clock.now(), routing)
    return _apply(contacts, choices, routing, cause=Assignment.Cause.CAPTURE, new=True)


def assign_on_stage(contact_ids: Iterable[int], stage: Stage) -> list[Assignment]:
    """Contacts entered a stage: rules for that stage hand them on (unless the owner is one of the rule's reps)."""
    routing = config.current()
    rules = routing.stage_rules.get(stage.pk, ())
    if not rules:
        return []
    members = {m.user.pk for rule in rules for m in rule.members}
    moving = [c for c in _routable(set(contact_ids)) if c.owner_id not in members]
    choices = choose(moving, rules, clock.now(), routing)
    # A contact no stage rule can place keeps its owner rather than dropping into the queue.
    placed = [c for c in moving if choices[c.pk].user is not None or c.owner_id is None]
    return _apply(placed, choices, routing, cause=Assignment.Cause.STAGE)


def reassign(contact_ids: Sequence[int], user: User | None, *, actor: User | None, note: str = "") -> list[Assignment]:
    """Give contacts to a rep by hand (or back to the queue with `user=None`)."""
    if user is not None and not user.is_active:
        raise RoutingError("user_id", _("%(user)s is disabled.") % {"user": user.display_name})
    reason = {"by": actor.display_name if actor else "", "note": note}
    choices = {c: Choice(user, None, reason) for c in contact_ids}
    contacts = list(_routable(contact_ids))
    return _apply(contacts, choices, config.current(), cause=Assignment.Cause.MANUAL, actor=actor)


def _apply(
    contacts: Sequence[Contact],
    choices: Mapping[int, Choice],
    routing: config.Routing,
    *,
    cause: str,
    actor: User | None = None,
    new: bool = False,
) -> list[Assignment]:
    """Write the assignments, owners, notices and SLA timers of these choices, in the caller's transaction.

    `new`: contacts captured in this transaction, which nobody else can hold and which have no assignment yet."""
    if not contacts:
        return []
    now = clock.now()
    ids = [c.pk for c in contacts]
    with transaction.atomic(savepoint=False):
        current: dict[int, Assignment] = {}
        if not new:
            contacts = list(_routable(ids).select_for_update(of=("self",)))
            current = {a.contact_id: a for a in Assignment.objects.filter(contact_id__in=ids, is_current=True)}
            Assignment.objects.filter(contact_id__in=ids, is_current=True).update(is_current=False)
        made = []
        for contact in contacts:
            choice = choices[contact.pk]
            previous = current.get(contact.pk)
            assignment = Assignment(
                contact=contact, user=choice.user, previous_user_id=contact.owner_id, rule=choice.rule, cause=cause,
                reason=choice.reason, actor=actor, at=now,
            )  # fmt: skip
            same_rep = previous is not None and previous.user_id == (choice.user.pk if choice.user else None)
            if previous and same_rep and previous.first_response_at:
                assignment.first_response_at = previous.first_response_at  # same rep: the clock stays stopped
            made.append(assignment)
        clocks = _start_clocks([a for a in made if a.user is not None and a.first_response_at is None], routing, now)
        insert(made)
        for assignment in made:
            assignment.contact.owner, assignment.contact.updated_at = assignment.user, now
        bulk_update([a.contact for a in made], ["owner", "updated_at"])
        _announce([a for a in made if a.user is not None], [_timer(a.pk, steps) for a, steps in clocks])
    return made


def _announce(assignments: Sequence[Assignment], timers: Sequence[KeyedJob]) -> None:
    """The new reps' notices, their deliveries and the SLA timers: the notices' keys name these new assignments."""
    notices = []
    for assignment in assignments:
        contact, user = assignment.contact, assignment.user
        assert user is not None
        band = contact.get_band_display() if contact.band else ""
        details = " · ".join(str(x) for x in (contact.source, contact.need, band) if x)
        notices.append(Notice(
            user, "new_lead", _("New lead: %(name)s") % {"name": contact.full_name or contact.phone or contact.email},
            details, contact, f"/contacts/{contact.pk}/", f"assignment:{assignment.pk}",
        ))  # fmt: skip
    notify_many(notices, fresh_keys=True, jobs=timers)


SlaSteps = list[tuple[str, datetime]]  # (step, when), in time order


def _start_clocks(
    assignments: Sequence[Assignment], routing: config.Routing, now: datetime
) -> list[tuple[Assignment, SlaSteps]]:
    """Each assignment's SLA (the first active policy whose conditions hold): its policy and deadline are set
    on it (before it is saved); returns its steps (reminder, breach, reclaim) to queue once it has a pk."""
    if not assignments or not routing.policies:
        return []
    matches = matching([a.contact for a in assignments], routing.policies)
    clocks = []
    for assignment in assignments:
        policy = next((p.row for p in routing.policies if p.row.pk in matches[assignment.contact_id]), None)
        if policy is not None:
            clocks.append((assignment, _start_clock(assignment, policy, routing.availability, now)))
    return clocks


def _timer(assignment_id: int, steps: SlaSteps) -> KeyedJob:
    """An assignment's next SLA step as a durable job that carries the steps after it: each step queues the next
    as it runs (sla_step), so the capture writes one timer row per lead, not three, and a lead answered in time
    leaves that one behind."""
    (step, moment), *then = steps
    payload = {"assignment_id": assignment_id, "step": step, "then": [[s, m.isoformat()] for s, m in then]}
    return "routing.sla", f"sla:{assignment_id}:{step}", payload, moment


def _start_clock(assignment: Assignment, policy: SlaPolicy, calendar: Availability, now: datetime) -> SlaSteps:
    user = assignment.user
    assert user is not None

    def after(minutes: int) -> datetime:
        if policy.business_hours:
            try:
                return calendar.add_business_minutes(now, minutes, user)
            except NoWorkingTime:
                pass  # no working time ahead (hours left empty): the clock runs on wall time
        return now + timedelta(minutes=minutes)

    assignment.policy, assignment.due_at = policy, after(policy.first_response_minutes)
    moments = {"breach": assignment.due_at}
    if policy.remind_before_minutes:
        moments["remind"] = after(policy.first_response_minutes - policy.remind_before_minutes)
    if policy.reclaim_after_minutes:
        moments["reclaim"] = after(policy.reclaim_after_minutes)
    return sorted(moments.items(), key=lambda item: item[1])  # a reclaim may be set before the breach


def responded(contact_id: int, actor: User | None, at: datetime) -> None:
    """The owner called, wrote, met or noted the lead: the first response stops the SLA clock."""
    if actor is None:
        return
    Assignment.objects.filter(
        contact_id=contact_id, is_current=True, user=actor, first_response_at__isnull=True
    ).update(first_response_at=at)


def sla_step(assignment_id: int, step: str, then: SlaSteps | None = None) -> str:
    """A timer fired: remind the owner, escalate at the breach, or reclaim, and queue the next of `then` (in the
    same transaction: a worker killed in between runs this step again, and the next is queued once, by its key).
    Returns what was done."""
    with transaction.atomic():
        done = _sla_step(assignment_id, step)
        if then and done != "nothing":
            enqueue_kinds([_timer(assignment_id, then)])
    return done


def _sla_step(assignment_id: int, step: str) -> str:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("contact", "user", "user__team__lead", "policy")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or not assignment.is_current or assignment.first_response_at or assignment.user is None:
        return "nothing"  # answered, reassigned or deleted meanwhile
    contact, user = assignment.contact, assignment.user
    name = contact.full_name or contact.phone
    if step == "remind":
        notify(user, kind="sla_reminder", contact=contact, key=f"sla:{assignment.pk}:remind",
               title=_("Respond to %(name)s before %(due)s") % {
                   "name": name, "due": timezone.localtime(assignment.due_at).strftime("%H:%M %d/%m")})  # fmt: skip
        return "reminded"
    if step == "breach":
        assignment.breached_at = clock.now()
        lead = user.team.lead if user.team else None
        if assignment.policy and assignment.policy.escalate and lead and lead.pk != user.pk:
            assignment.escalated_to = lead
            notify(lead, kind="sla_breach", contact=contact, key=f"sla:{assignment.pk}:breach",
                   title=_("%(user)s has not responded to %(name)s in time") % {
                       "user": user.display_name, "name": name})  # fmt: skip
        assignment.save(update_fields=["breached_at", "escalated_to"])
        return "escalated" if assignment.escalated_to else "breached"
    routable, routing = list(_routable([contact.pk])), config.current()
    choice = choose(routable, routing.capture_rules, clock.now(), routing, exclude=[user.pk])[contact.pk]
    choice.reason["reclaimed_from"] = user.display_name
    _apply(routable, {contact.pk: choice}, routing, cause=Assignment.Cause.RECLAIM)
    notify(user, kind="reassigned", contact=contact, key=f"sla:{assignment.pk}:reclaim",
           title=_("%(name)s was given to someone else: no response in time") % {"name": name})  # fmt: skip
    return "reclaimed"
