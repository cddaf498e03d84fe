"""What routing reads for every lead, held in memory per process: the active rules with their reps (a rule's
team brings its active reps), the SLA policies, and the reps' availability (hours, holidays, schedules, leave).

It is rebuilt when any of the models it comes from changes (core.revisions), and at least twice a day so that
its calendar keeps covering the weeks ahead. The rotation state (a rule's last rep, each rep's count) changes
with every lead: it is read under the rule's lock (actions.choose), never from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nurture.accounts import people
from nurture.accounts.models import Team, User
from nurture.availability.calendar import Availability
from nurture.availability.models import BusinessHours, Holiday, Leave, RepSchedule
from nurture.contacts.conditions import Predicate, contact_predicate
from nurture.core import clock, revisions
from nurture.routing.models import AssignmentRule, Capacity, RuleMember, SlaPolicy

REVISION = "routing"
REBUILD_AFTER = timedelta(hours=12)


@dataclass(frozen=True)
class Member:
    user: User
    position: int
    weight: int


@dataclass(frozen=True)
class Rule:
    row: AssignmentRule
    members: tuple[Member, ...]  # in rotation order
    test: Predicate | None  # None: its conditions need the database (events, tags, dates ...)


@dataclass(frozen=True)
class Policy:
    row: SlaPolicy
    test: Predicate | None


@dataclass(frozen=True)
class Routing:
    capture_rules: tuple[Rule, ...]  # rules for new leads, in priority order
    stage_rules: dict[int, tuple[Rule, ...]]  # stage id -> rules for contacts entering it
    policies: tuple[Policy, ...]
    availability: Availability  # every rule member's; other users are loaded when first asked about
    built_at: datetime


def current() -> Routing:
    """The configuration now: one query while nothing changed."""
    return revisions.snapshot(
        REVISION, _build, fresh=lambda routing: routing.built_at <= clock.now() < routing.built_at + REBUILD_AFTER
    )


def watch() -> None:
    revisions.watch(REVISION, AssignmentRule, RuleMember, Capacity, SlaPolicy, Team, RepSchedule, Leave, BusinessHours,
                    Holiday)  # fmt: skip
    revisions.watch(REVISION, User, ignore=people.login_only)


def team_reps(team_ids: Sequence[int]) -> dict[int, list[User]]:
    """Each team's active sales reps, by username: the rotation order of the reps a team brings to a rule."""
    reps_of: dict[int, list[User]] = {}
    users = User.objects.filter(team_id__in=team_ids, is_active=True, role=User.Role.SALES_REP)
    for user in users.select_related("capacity").order_by("username"):
        reps_of.setdefault(user.team_id, []).append(user)  # type: ignore[arg-type]
    return reps_of


def _build() -> Routing:
    now = clock.now()
    rules = list(AssignmentRule.objects.filter(is_active=True).order_by("priority", "id"))
    rows: dict[int, list[RuleMember]] = {rule.pk: [] for rule in rules}
    for member in RuleMember.objects.filter(rule__in=rules).select_related("user", "user__capacity"):
        rows[member.rule_id].append(member)
    reps_of = team_reps([rule.team_id for rule in rules if rule.team_id])
    built: list[Rule] = []
    for rule in rules:
        members = [
            Member(m.user, m.position, m.weight) for m in sorted(rows[rule.pk], key=lambda m: (m.position, m.pk))
        ]
        known = {m.user.pk for m in members}
        after = max((m.position for m in members), default=-1) + 1
        # A team's rep with no row yet joins at the end of the rotation; the row comes with their first lead.
        joining = [u for u in reps_of.get(rule.team_id, []) if u.pk not in known]  # type: ignore[arg-type]
        members += [Member(user, after + i, 1) for i, user in enumerate(joining)]
        built.append(Rule(rule, tuple(members), contact_predicate(rule.conditions) if rule.conditions else _always))
    policies = tuple(
        Policy(p, contact_predicate(p.conditions) if p.conditions else _always)
        for p in SlaPolicy.objects.filter(is_active=True).order_by("priority", "id")
    )
    stage_rules: dict[int, tuple[Rule, ...]] = {}
    for each in built:
        if each.row.on_stage_id is not None:
            stage_rules[each.row.on_stage_id] = (*stage_rules.get(each.row.on_stage_id, ()), each)
    reps = {m.user.pk: m.user for rule in built for m in rule.members}
    return Routing(
        capture_rules=tuple(r for r in built if r.row.on_stage_id is None),
        stage_rules=stage_rules,
        policies=policies,
        availability=Availability.load(reps.values(), now),
        built_at=now,
    )


def _always(contact: Any) -> bool:
    return True
