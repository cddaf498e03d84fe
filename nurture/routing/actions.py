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
from django.db.models import Case, Count, F, Max, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.accounts.models import Team, User
from nurture.availability.calendar import Availability, NoWorkingTime
from nurture.contacts.conditions import ConditionError, contact_q
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.jobs import enqueue_many
from nurture.lifecycle.models import Stage
from nurture.notifications.actions import notify
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
    if not members and (team is None or not _team_reps([team.pk])):
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


def _team_reps(team_ids: Iterable[int]) -> dict[int, list[User]]:
    """Each team's active sales reps, by username: the rotation order of the reps a team brings to a rule."""
    reps_of: dict[int, list[User]] = {}
    ids = set(team_ids)
    for user in User.objects.filter(team_id__in=ids, is_active=True, role=User.Role.SALES_REP).order_by("username"):
        reps_of.setdefault(user.team_id, []).append(user)  # type: ignore[arg-type]
    return reps_of


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
    availability: Availability | None = None  # the snapshot the choice was made with, reused for the SLA


def _members(rules: Sequence[AssignmentRule]) -> dict[int, list[RuleMember]]:
    """Each rule's reps in order, in one query; a team's reps without a row yet get one (at the end of the
    rotation)."""

    def load() -> dict[int, list[RuleMember]]:
        by_rule: dict[int, list[RuleMember]] = {rule.pk: [] for rule in rules}
        members = RuleMember.objects.filter(rule__in=rules).select_related("user", "user__capacity")
        for member in members.order_by("rule_id", "position", "id"):
            by_rule[member.rule_id].append(member)
        return by_rule

    by_rule = load()
    team_ids = {rule.team_id for rule in rules if rule.team_id}
    reps_of = _team_reps(team_ids) if team_ids else {}
    new = []
    for rule in rules:
        known = {m.user_id for m in by_rule[rule.pk]}
        start = max((m.position for m in by_rule[rule.pk]), default=-1) + 1
        missing = [u for u in reps_of.get(rule.team_id, []) if u.pk not in known]  # type: ignore[arg-type]
        new += [RuleMember(rule=rule, user=u, position=start + i) for i, u in enumerate(missing)]
    if new:
        RuleMember.objects.bulk_create(new, ignore_conflicts=True)
        by_rule = load()
    return by_rule


def _matching(contact_ids: Sequence[int], items: Sequence[AssignmentRule] | Sequence[SlaPolicy]) -> dict[int, set[int]]:
    """The pks of the rules (or policies) whose conditions each contact meets: one query for all of them."""
    found = {contact_id: {item.pk for item in items if not item.conditions} for contact_id in contact_ids}
    flags = {
        f"m{item.pk}": Case(When(contact_q(item.conditions), then=Value(True)), default=Value(False))
        for item in items
        if item.conditions
    }
    if flags:
        rows = Contact.objects.filter(pk__in=contact_ids).annotate(**flags).values_list("pk", *flags)
        for contact_id, *hits in rows:
            found[contact_id].update(int(name[1:]) for name, hit in zip(flags, hits, strict=True) if hit)
    return found


def _load(user_ids: Iterable[int], now: datetime) -> dict[int, Workload]:
    """Each rep's open leads, leads assigned today and last assignment: two aggregate queries."""
    ids = sorted(set(user_ids))
    loads = {user_id: Workload() for user_id in ids}
    open_counts = (
        Contact.objects.filter(owner_id__in=ids, merged_into__isnull=True, stage__outcome=Stage.Outcome.OPEN)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
    )
    for user_id, n in open_counts:
        loads[user_id].open_leads = n
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    assigned = Assignment.objects.filter(user_id__in=ids).values_list("user_id")
    for user_id, n, last in assigned.annotate(n=Count("pk", filter=Q(at__gte=midnight)), last=Max("at")):
        loads[user_id].today, loads[user_id].last_at = n, last
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
    contact_ids: Sequence[int], rules: Sequence[AssignmentRule], now: datetime, *, exclude: Iterable[int] = ()
) -> dict[int, Choice]:
    """The rep for each contact: one query for every rule's conditions, then the strategy per lead.

    A rule is locked for the transaction before it rotates, so parallel captures rotate it one at a time. Only
    each lead's first matching rule is locked up front (a catch-all rule that matches every lead must not
    serialise all captures); a later rule is locked when a lead falls through to it. Locks are taken in rule
    order, the same in every transaction.
    """
    excluded = set(exclude)
    order = {rule.pk: i for i, rule in enumerate(rules)}
    matches = {c: sorted(found, key=order.__getitem__) for c, found in _matching(contact_ids, rules).items()}
    locked: dict[int, AssignmentRule] = {}
    members_of: dict[int, list[RuleMember]] = {}

    def lock(rule_ids: Iterable[int]) -> None:
        wanted = sorted(set(rule_ids) - locked.keys(), key=order.__getitem__)
        if wanted:
            rows = AssignmentRule.objects.select_for_update().filter(pk__in=wanted).order_by("priority", "id")
            locked.update((rule.pk, rule) for rule in rows)
            for pk, members in _members([locked[pk] for pk in wanted]).items():  # read after the lock: fresh counts
                members_of[pk] = [m for m in members if m.user_id not in excluded]

    lock(found[0] for found in matches.values() if found)
    reps = [m.user for ms in members_of.values() for m in ms]
    availability = Availability.load(reps, now)  # it loads a later rule's reps when first asked about them
    loads = _load({user.pk for user in reps}, now)  # kept up to date below as this batch assigns
    choices: dict[int, Choice] = {}
    for contact_id in contact_ids:
        tried: list[dict[str, Any]] = []
        for rule_id in matches[contact_id]:
            lock([rule_id])
            rule, members = locked[rule_id], members_of[rule_id]
            if missing := {m.user_id for m in members} - loads.keys():  # a rule this lead fell through to
                loads.update(_load(missing, now))
            skipped, eligible = [], []
            for member in members:
                candidate = Candidate(member, loads[member.user_id])
                why = _skip_reason(candidate, availability, now)
                if why:
                    skipped.append({"user": member.user.display_name, "user_id": member.user_id, "why": str(why)})
                else:
                    eligible.append(candidate)
            tried.append({"rule": rule.name, "rule_id": rule.pk, "skipped": skipped})
            if not eligible:
                continue
            last = next((m.position for m in members if m.user_id == rule.last_user_id), None)
            chosen = pick(rule.strategy, eligible, last)
            _record_pick(rule, chosen.member)
            chosen.load.today, chosen.load.open_leads, chosen.load.last_at = (
                chosen.load.today + 1,
                chosen.load.open_leads + 1,
                now,
            )
            reason = {"rule": rule.name, "rule_id": rule.pk, "strategy": rule.strategy, "skipped": skipped,
                      "earlier": tried[:-1]}  # fmt: skip
            choices[contact_id] = Choice(chosen.member.user, rule, reason, availability)
            break
        else:
            warning = _("Every rep of the matching rules is unavailable.") if tried else _("No rule matches this lead.")
            choices[contact_id] = Choice(None, None, {"warning": warning, "earlier": tried})
    return choices


def _record_pick(rule: AssignmentRule, member: RuleMember) -> None:
    RuleMember.objects.filter(pk=member.pk).update(assigned=F("assigned") + 1)
    member.assigned += 1  # the cached row serves the next lead of this batch
    AssignmentRule.objects.filter(pk=rule.pk).update(last_user=member.user)
    rule.last_user = member.user


# --- assigning --------------------------------------------------------------------------------------


def assign_new(contact_ids: Iterable[int]) -> list[Assignment]:
    """Route newly captured leads that have no owner yet (runs inside the capture transaction)."""
    rules = list(AssignmentRule.objects.filter(is_active=True, on_stage__isnull=True))
    if not rules:
        return []  # routing not set up: leads stay unassigned, as before
    ids = sorted(Contact.objects.filter(pk__in=list(contact_ids), owner__isnull=True).values_list("pk", flat=True))
    if not ids:
        return []
    return _apply(ids, choose(ids, rules, clock.now()), cause=Assignment.Cause.CAPTURE)


def assign_on_stage(contact_ids: Iterable[int], stage: Stage) -> list[Assignment]:
    """Contacts entered a stage: rules for that stage hand them on (unless the owner is one of the rule's reps)."""
    rules = list(AssignmentRule.objects.filter(is_active=True, on_stage=stage))
    ids = sorted(set(contact_ids))
    if not rules or not ids:
        return []
    owners = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "owner_id"))
    members = set(RuleMember.objects.filter(rule__in=rules).values_list("user_id", flat=True))
    moving = [c for c in ids if owners.get(c) not in members]
    choices = choose(moving, rules, clock.now())
    # A contact no stage rule can place keeps its owner rather than dropping into the queue.
    placed = {c: choice for c, choice in choices.items() if choice.user is not None or owners.get(c) is None}
    return _apply(sorted(placed), placed, cause=Assignment.Cause.STAGE)


def reassign(contact_ids: Sequence[int], user: User | None, *, actor: User | None, note: str = "") -> list[Assignment]:
    """Give contacts to a rep by hand (or back to the queue with `user=None`)."""
    if user is not None and not user.is_active:
        raise RoutingError("user_id", _("%(user)s is disabled.") % {"user": user.display_name})
    reason = {"by": actor.display_name if actor else "", "note": note}
    choices = {c: Choice(user, None, reason) for c in contact_ids}
    return _apply(list(contact_ids), choices, cause=Assignment.Cause.MANUAL, actor=actor)


def _apply(
    contact_ids: Sequence[int], choices: Mapping[int, Choice], *, cause: str, actor: User | None = None
) -> list[Assignment]:
    """Write the assignments, owners, notices and SLA timers of these choices, in the caller's transaction."""
    if not contact_ids:
        return []
    now = clock.now()
    with transaction.atomic():
        contacts = Contact.objects.select_for_update().in_bulk(list(contact_ids))
        current = {a.contact_id: a for a in Assignment.objects.filter(contact_id__in=contact_ids, is_current=True)}
        Assignment.objects.filter(contact_id__in=contact_ids, is_current=True).update(is_current=False)
        made = []
        for contact_id in contact_ids:
            choice, contact = choices[contact_id], contacts[contact_id]
            previous = current.get(contact_id)
            assignment = Assignment(
                contact=contact, user=choice.user, previous_user_id=contact.owner_id, rule=choice.rule, cause=cause,
                reason=choice.reason, actor=actor, at=now,
            )  # fmt: skip
            same_rep = previous is not None and previous.user_id == (choice.user.pk if choice.user else None)
            if previous and same_rep and previous.first_response_at:
                assignment.first_response_at = previous.first_response_at  # same rep: the clock stays stopped
            made.append(assignment)
        Assignment.objects.bulk_create(made)
        for owner_id in {a.user_id for a in made}:
            ids = [a.contact_id for a in made if a.user_id == owner_id]
            Contact.objects.filter(pk__in=ids).update(owner_id=owner_id, updated_at=now)
        for assignment in made:
            assignment.contact.owner = assignment.user
            if assignment.user is not None:
                _announce(assignment)
        calendar = next((c.availability for c in choices.values() if c.availability), None)
        _start_clocks([a for a in made if a.user is not None and a.first_response_at is None], now, calendar)
    return made


def _announce(assignment: Assignment) -> None:
    contact, user = assignment.contact, assignment.user
    assert user is not None
    band = contact.get_band_display() if contact.band else ""
    details = " · ".join(str(x) for x in (contact.source, contact.need, band) if x)
    notify(
        user, kind="new_lead", contact=contact, key=f"assignment:{assignment.pk}",
        title=_("New lead: %(name)s") % {"name": contact.full_name or contact.phone or contact.email},
        body=details, url=f"/contacts/{contact.pk}/",
    )  # fmt: skip


def _start_clocks(assignments: Sequence[Assignment], now: datetime, calendar: Availability | None) -> None:
    """Each assignment's SLA (the first active policy whose conditions hold): its deadline and timer jobs."""
    policies = list(SlaPolicy.objects.filter(is_active=True))
    if not assignments or not policies:
        return
    matches = _matching([a.contact_id for a in assignments], policies)
    calendar = calendar or Availability.load([], now)  # it loads each owner when first asked about them
    timers = []
    for assignment in assignments:
        policy = next((p for p in policies if p.pk in matches[assignment.contact_id]), None)
        if policy is not None:
            timers += _start_clock(assignment, policy, calendar, now)
    enqueue_many("routing.sla", timers)


def _start_clock(
    assignment: Assignment, policy: SlaPolicy, calendar: Availability, now: datetime
) -> list[tuple[str, dict[str, Any], datetime]]:
    """Set the assignment's deadline; returns its timers (reminder, breach, reclaim) as jobs to queue."""
    user = assignment.user
    assert user is not None

    def after(minutes: int) -> datetime:
        if policy.business_hours:
            try:
                return calendar.add_business_minutes(now, minutes, user)
            except NoWorkingTime:
                pass  # no working time ahead (hours left empty): the clock runs on wall time
        return now + timedelta(minutes=minutes)

    due = after(policy.first_response_minutes)
    Assignment.objects.filter(pk=assignment.pk).update(policy=policy, due_at=due)
    assignment.policy, assignment.due_at = policy, due
    moments = {"breach": due}
    if policy.remind_before_minutes:
        moments["remind"] = after(policy.first_response_minutes - policy.remind_before_minutes)
    if policy.reclaim_after_minutes:
        moments["reclaim"] = after(policy.reclaim_after_minutes)
    return [
        (f"sla:{assignment.pk}:{step}", {"assignment_id": assignment.pk, "step": step}, moment)
        for step, moment in moments.items()
    ]


def responded(contact_id: int, actor: User | None, at: datetime) -> None:
    """The owner called, wrote, met or noted the lead: the first response stops the SLA clock."""
    if actor is None:
        return
    Assignment.objects.filter(
        contact_id=contact_id, is_current=True, user=actor, first_response_at__isnull=True
    ).update(first_response_at=at)


def sla_step(assignment_id: int, step: str) -> str:
    """A timer fired: remind the owner, escalate at the breach, or reclaim. Returns what was done."""
    with transaction.atomic():
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
        rules = list(AssignmentRule.objects.filter(is_active=True, on_stage__isnull=True))
        choice = choose([contact.pk], rules, clock.now(), exclude=[user.pk])[contact.pk]
        choice.reason["reclaimed_from"] = user.display_name
        _apply([contact.pk], {contact.pk: choice}, cause=Assignment.Cause.RECLAIM)
        notify(user, kind="reassigned", contact=contact, key=f"sla:{assignment.pk}:reclaim",
               title=_("%(name)s was given to someone else: no response in time") % {"name": name})  # fmt: skip
        return "reclaimed"
