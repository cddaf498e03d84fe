"""Points scoring: rules applied to events and attributes, the ledger, decay, bands, re-scoring.

Scores are always derived from the ledger: `recompute` sets fit (the sum of fit entries) and engagement
(the sum of engagement entries, each halved every half-life since it happened) from the rows, in SQL,
so the stored score cannot drift from what the ledger says. Engagement is stored as its value at
`scored_at`; the nightly decay multiplies it forward (exponential decay is multiplicative).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, Trunc

from nurture.accounts.models import User
from nurture.contacts.conditions import ConditionError, contact_q, event_q
from nurture.contacts.models import Contact, Event
from nurture.core import clock, revisions
from nurture.core.jobs import enqueue_on_commit
from nurture.core.writes import insert
from nurture.scoring.models import PointsRule, RescoreRun, ScoreEntry, ScoringSettings

RANGE = 50_000  # contacts per re-scoring step: one progress tick, one transaction


def scoring_settings() -> ScoringSettings:
    row, _ = ScoringSettings.objects.get_or_create(pk=1)
    return row


def band(score: float, config: ScoringSettings) -> str:
    if score >= config.hot:
        return Contact.Band.HOT
    return Contact.Band.WARM if score >= config.warm else Contact.Band.COLD


def decayed(points: float, at: datetime, now: datetime, half_life_days: float) -> float:
    """What `points` earned at `at` are worth at `now`."""
    if half_life_days <= 0:
        return points
    return points * 0.5 ** (max((now - at).total_seconds(), 0.0) / 86400 / half_life_days)


# --- rules -------------------------------------------------------------------------------------------


RULE_FIELDS = ("name", "kind", "event_type", "conditions", "points", "cap", "cap_period", "is_active")


def validate_rule(data: dict[str, Any]) -> None:
    """Refuse a rule that cannot be applied, naming the field: ValueError(field, message)."""
    if not str(data.get("name", "")).strip():
        raise RuleError("name", "a rule needs a name")
    if data.get("kind") not in PointsRule.Kind.values:
        raise RuleError("kind", f"unknown kind {data.get('kind')!r}")
    points = data.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or points == 0 or abs(points) > 1000:
        raise RuleError("points", "points must be a whole number from -1000 to 1000, not 0")
    cap = data.get("cap")
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        raise RuleError("cap", "the cap must be a whole number of at least 1")
    if data.get("cap_period", PointsRule.Period.WEEK) not in PointsRule.Period.values:
        raise RuleError("cap_period", f"unknown period {data.get('cap_period')!r}")
    conditions = data.get("conditions") or []
    try:
        if data["kind"] == PointsRule.Kind.BEHAVIOUR:
            if not str(data.get("event_type", "")).strip():
                raise RuleError("event_type", "a behaviour rule needs an event type")
            if conditions:
                event_q(conditions)
        elif not conditions:
            raise RuleError("conditions", "an attribute rule needs a condition")
        elif not isinstance(conditions, dict):
            raise RuleError("conditions", "an attribute rule's condition is an object")
        else:
            contact_q(conditions)
    except ConditionError as exc:
        raise RuleError("conditions", str(exc)) from None


class RuleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def save_rule(rule: PointsRule | None, data: dict[str, Any], *, actor: User | None) -> tuple[PointsRule, RescoreRun]:
    """Create or change a rule and re-score everyone by it in the background."""
    data = {k: v for k, v in data.items() if k in RULE_FIELDS}
    if rule is not None:
        data = {**{k: getattr(rule, k) for k in RULE_FIELDS}, **data}
    if data.get("kind") == PointsRule.Kind.ATTRIBUTE:
        data["event_type"] = ""
    validate_rule(data)
    now = clock.now()
    with transaction.atomic():
        if rule is None:
            rule = PointsRule.objects.create(**data, created_at=now, updated_at=now)
        else:
            for k, v in data.items():
                setattr(rule, k, v)
            rule.updated_at = now
            rule.save()
        run = start_rescore(reason=f"rule {rule.name}", rule_ids=[rule.pk], actor=actor)
    return rule, run


def delete_rule(rule: PointsRule, *, actor: User | None) -> RescoreRun:
    """Delete a rule; its ledger rows stay (voided by the re-scoring it starts) with the rule's name."""
    with transaction.atomic():
        ScoreEntry.objects.filter(rule=rule, voided_at__isnull=True).update(voided_at=clock.now())
        name = rule.name
        rule.delete()
        return start_rescore(reason=f"rule {name} deleted", rule_ids=[], actor=actor)


def save_settings(*, half_life_days: float, hot: int, warm: int, actor: User | None) -> RescoreRun:
    if half_life_days < 0:
        raise RuleError("half_life_days", "the half-life cannot be negative")
    if warm >= hot:
        raise RuleError("warm", "warm must start below hot")
    with transaction.atomic():
        ScoringSettings.objects.update_or_create(
            pk=1, defaults={"half_life_days": half_life_days, "hot": hot, "warm": warm, "updated_at": clock.now()}
        )
        return start_rescore(reason="settings", rule_ids=[], actor=actor)


# Seed 000's example (email opened = 5, form filled = 10) and the usual companions: a starting point
# that seed-demo installs and admins then tune.
STARTER_RULES: list[dict[str, Any]] = [
    {"name": "Email opened", "kind": "behaviour", "event_type": "email_opened", "points": 5, "cap": 3,
     "cap_period": "week"},
    {"name": "Form filled", "kind": "behaviour", "event_type": "form_submitted", "points": 10},
    {"name": "Price page viewed", "kind": "behaviour", "event_type": "page_viewed", "points": 10, "cap": 1,
     "cap_period": "day", "conditions": [{"field": "data.url", "op": "contains", "value": "bang-gia"}]},
    {"name": "Webinar attended", "kind": "behaviour", "event_type": "webinar_attended", "points": 15},
    {"name": "Unsubscribed", "kind": "behaviour", "event_type": "unsubscribed", "points": -20},
    {"name": "Decision maker", "kind": "attribute", "points": 15,
     "conditions": {"any": [{"field": "job_title", "op": "contains", "value": "giám đốc"},
                            {"field": "job_title", "op": "contains", "value": "director"}]}},
    {"name": "Big cities", "kind": "attribute", "points": 5,
     "conditions": {"field": "province", "op": "in", "value": ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng"]}},
]  # fmt: skip


def install_starter_rules() -> list[PointsRule]:
    """Create the starter rules (no re-scoring: for a database about to be filled)."""
    now = clock.now()
    rules = []
    for data in STARTER_RULES:
        validate_rule(data)
        rules.append(PointsRule.objects.create(**data, created_at=now, updated_at=now))
    return rules


# --- scoring inside capture ----------------------------------------------------------------------


def active_rules() -> list[PointsRule]:
    """The active points rules: every capture applies them, so each process holds them until one changes."""
    return revisions.snapshot("scoring", lambda: list(PointsRule.objects.filter(is_active=True)))


def score_new_events(events: Sequence[Event]) -> None:
    """Apply the behaviour rules to events just written, and the attribute rules to their contacts.

    Runs inside the capture transaction, so the score changes with the event or not at all.
    """
    contact_ids = {e.contact_id for e in events}
    if not contact_ids:
        return
    entries = _behaviour_entries(events)
    insert(entries)
    changed = {e.contact_id for e in entries} | sync_attributes(contact_ids, recompute_after=False)
    if changed:
        # A contact whose ledger did not change keeps an exact (engagement, scored_at) pair.
        recompute(changed)


def _behaviour_entries(events: Sequence[Event]) -> list[ScoreEntry]:
    by_type: dict[str, list[Event]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event)
    rules = [r for r in active_rules() if r.kind == PointsRule.Kind.BEHAVIOUR and r.event_type in by_type]
    entries: list[ScoreEntry] = []
    now = clock.now()
    for rule in rules:
        candidates = by_type[rule.event_type]
        if rule.conditions:
            matching = set(
                Event.objects.filter(pk__in=[e.pk for e in candidates]).filter(event_q(rule.conditions))
                .values_list("pk", flat=True)
            )  # fmt: skip
            candidates = [e for e in candidates if e.pk in matching]
        if rule.cap is not None:
            candidates = _within_cap(rule, candidates)
        entries.extend(
            ScoreEntry(contact_id=e.contact_id, rule=rule, rule_name=rule.name, event=e, points=rule.points,
                       dimension=ScoreEntry.Dimension.ENGAGEMENT, at=min(e.at, now))
            for e in candidates
        )  # fmt: skip
    return entries


def _bucket(at: datetime, period: str) -> tuple[int, ...]:
    local = at.astimezone(ZoneInfo(settings.TIME_ZONE))
    if period == PointsRule.Period.DAY:
        return (local.year, local.month, local.day)
    if period == PointsRule.Period.WEEK:
        return tuple(local.isocalendar()[:2])
    if period == PointsRule.Period.MONTH:
        return (local.year, local.month)
    return ()


def _within_cap(rule: PointsRule, events: list[Event]) -> list[Event]:
    """The events that still earn points: at most `cap` per contact and calendar period (local time)."""
    assert rule.cap is not None
    earliest = min(e.at for e in events) - timedelta(days=32)
    earned = ScoreEntry.objects.filter(rule=rule, contact_id__in={e.contact_id for e in events}, voided_at__isnull=True)
    if rule.cap_period != PointsRule.Period.EVER:
        earned = earned.filter(at__gte=earliest)
    used = Counter((c, _bucket(at, rule.cap_period)) for c, at in earned.values_list("contact_id", "at"))
    kept = []
    for event in sorted(events, key=lambda e: (e.at, e.pk)):
        slot = (event.contact_id, _bucket(event.at, rule.cap_period))
        if used[slot] < rule.cap:
            used[slot] += 1
            kept.append(event)
    return kept


def sync_attributes(contact_ids: Iterable[int], *, recompute_after: bool = True) -> set[int]:
    """Bring the fit entries of these contacts in line with the attribute rules: a rule that now holds
    earns its points, one that no longer holds takes them back (both as ledger rows).

    Returns the contacts whose ledger changed (recomputed unless `recompute_after` is false).
    """
    ids = sorted(set(contact_ids))
    rules = [r for r in active_rules() if r.kind == PointsRule.Kind.ATTRIBUTE]
    if not ids or not rules:
        return set()
    now = clock.now()
    live = ScoreEntry.objects.filter(contact_id__in=ids, rule__in=rules, voided_at__isnull=True)
    totals = live.values("contact_id", "rule_id").annotate(total=Sum("points"))
    held = {(row["contact_id"], row["rule_id"]): row["total"] for row in totals}
    entries = []
    for rule in rules:
        matching = set(
            Contact.objects.filter(pk__in=ids).filter(contact_q(rule.conditions)).values_list("pk", flat=True)
        )
        for c in ids:
            current = held.get((c, rule.pk), 0)
            wanted = rule.points if c in matching else 0
            if current != wanted:
                entries.append(ScoreEntry(contact_id=c, rule=rule, rule_name=rule.name, points=wanted - current,
                                          dimension=ScoreEntry.Dimension.FIT, at=now))  # fmt: skip
    ScoreEntry.objects.bulk_create(entries)
    changed = {e.contact_id for e in entries}
    if recompute_after and changed:
        recompute(changed)
    return changed


# --- the stored score, from the ledger -----------------------------------------------------------


RECOMPUTE_SQL = """
UPDATE contacts_contact SET fit_score = a.fit, engagement_score = a.engagement, scored_at = %s,
  score = FLOOR(a.fit + a.engagement + 0.5),
  band = CASE WHEN FLOOR(a.fit + a.engagement + 0.5) >= %s THEN 'hot'
              WHEN FLOOR(a.fit + a.engagement + 0.5) >= %s THEN 'warm' ELSE 'cold' END
FROM (
  SELECT c.id AS contact_id,
    COALESCE(SUM(CASE WHEN e.dimension = 'fit' THEN e.points END), 0) AS fit,
    COALESCE(SUM(CASE WHEN e.dimension = 'engagement' THEN e.points * {decay} END), 0.0) AS engagement
  FROM contacts_contact c LEFT JOIN scoring_scoreentry e ON e.contact_id = c.id AND e.voided_at IS NULL
  WHERE c.id IN ({contacts})
  GROUP BY c.id
) a
WHERE contacts_contact.id = a.contact_id
"""
# Days from an entry to now, on each database (entries are never in the future: capture clamps them).
DAYS_SINCE = {
    "postgresql": "EXTRACT(EPOCH FROM (%s - e.at)) / 86400.0",
    "sqlite": "(julianday(%s) - julianday(e.at))",
}


def recompute(contacts: Iterable[int] | QuerySet[Contact]) -> int:
    """Set fit, engagement (decayed to now), score and band of these contacts from their ledger.

    One UPDATE over an aggregate of the ledger: the same statement scores one captured lead and a
    range of 20,000 contacts in a re-scoring.
    """
    qs = contacts if isinstance(contacts, QuerySet) else Contact.objects.filter(pk__in=sorted(set(contacts)))
    config = scoring_settings()
    now = clock.now()
    moment = DateTimeField().get_db_prep_value(now, connection)
    contacts_sql, contacts_params = qs.order_by().values("pk").query.sql_with_params()
    decay, decay_params = "1.0", []
    if config.half_life_days > 0:
        decay = f"POWER(0.5, {DAYS_SINCE[connection.vendor]} / %s)"
        decay_params = [moment, config.half_life_days]
    sql = RECOMPUTE_SQL.format(decay=decay, contacts=contacts_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [moment, config.hot, config.warm, *decay_params, *contacts_params])
        return max(cursor.rowcount, 0)


def rounded(value: float) -> int:
    """Half up, as `recompute` does in SQL (databases disagree on how ROUND breaks ties)."""
    return math.floor(value + 0.5)


def decay_all() -> int:
    """Bring every engaged contact's decaying score forward to now (the nightly job), range by range."""
    if scoring_settings().half_life_days <= 0:
        return 0
    engaged = Contact.objects.filter(merged_into__isnull=True).exclude(engagement_score=0)
    count = 0
    for low, high in _id_ranges(engaged):
        with transaction.atomic():
            count += recompute(engaged.filter(**_between("pk", low, high)))
    return count


def _id_ranges(contacts: QuerySet[Contact]) -> Iterator[tuple[int, int | None]]:
    """[low, high) bounds holding RANGE of these contacts each (the last is open), by keyset on the id."""
    ids = contacts.order_by("pk").values_list("pk", flat=True)
    low = ids.first()
    while low is not None:
        high = ids.filter(pk__gte=low)[RANGE : RANGE + 1].first()
        yield low, high
        low = high


def _between(field: str, low: int, high: int | None) -> dict[str, int]:
    return {f"{field}__gte": low, **({f"{field}__lt": high} if high is not None else {})}


# --- re-scoring everyone ---------------------------------------------------------------------------


def start_rescore(*, reason: str, rule_ids: list[int], actor: User | None) -> RescoreRun:
    run = RescoreRun.objects.create(reason=reason[:200], actor=actor, created_at=clock.now())
    enqueue_on_commit("scoring.rescore", {"run_id": run.pk, "rule_ids": rule_ids}, key=f"rescore:{run.pk}")
    return run


def rescore(run: RescoreRun, rule_ids: Sequence[int]) -> RescoreRun:
    """Re-apply these rules to every contact, set-based, one id range per transaction, then recompute.

    A rule's live entries are voided and written anew from the events and attributes as they are;
    rules not named keep their entries. Every contact's score is recomputed from the ledger.
    """
    run.status, run.started_at = RescoreRun.Status.RUNNING, clock.now()
    contacts = Contact.objects.filter(merged_into__isnull=True)
    run.total = contacts.count()
    run.save()
    rules = list(PointsRule.objects.filter(pk__in=rule_ids))
    for low, high in _id_ranges(contacts):
        with transaction.atomic():
            now = clock.now()
            in_range = contacts.filter(**_between("pk", low, high))
            entries = ScoreEntry.objects.filter(**_between("contact_id", low, high))
            entries.filter(rule__in=rules, voided_at__isnull=True).update(voided_at=now)
            for rule in rules:
                if rule.is_active:
                    run.entries += _insert_entries(rule, low, high, now)
            if rules:
                # Only contacts whose ledger changed: the others' (engagement, scored_at) is still exact.
                changed = entries.filter(rule__in=rules).filter(Q(voided_at=now) | Q(voided_at__isnull=True))
                recompute(in_range.filter(pk__in=changed.values("contact_id")))
            else:
                recompute(in_range)
            run.processed += in_range.count()
        RescoreRun.objects.filter(pk=run.pk).update(processed=run.processed, entries=run.entries)
    run.status, run.finished_at = RescoreRun.Status.DONE, clock.now()
    run.save()
    return run


ENTRY_COLUMNS = ("contact_id", "rule_id", "rule_name", "event_id", "dimension", "points", "at")


def _insert_entries(rule: PointsRule, low: int, high: int | None, now: datetime) -> int:
    """INSERT ... SELECT the rule's entries for the contacts with ids in [low, high)."""
    source: QuerySet[Any]
    if rule.kind == PointsRule.Kind.BEHAVIOUR:
        source = Event.objects.filter(type=rule.event_type, contact__merged_into__isnull=True)
        source = source.filter(**_between("contact_id", low, high))
        if rule.conditions:
            source = source.filter(event_q(rule.conditions))
        if rule.cap is not None:
            partition: list[Any] = [F("contact_id")]
            if rule.cap_period != PointsRule.Period.EVER:
                partition.append(Trunc("at", rule.cap_period, tzinfo=ZoneInfo(settings.TIME_ZONE)))
            source = source.annotate(
                nth=Window(RowNumber(), partition_by=partition, order_by=[F("at").asc(), F("id").asc()])
            ).filter(nth__lte=rule.cap)
        at: Any = Case(When(at__gt=now, then=Value(now)), default=F("at"))
        event: Any = F("id")
        contact: Any = F("contact_id")
    else:
        source = Contact.objects.filter(merged_into__isnull=True, **_between("pk", low, high))
        source = source.filter(contact_q(rule.conditions))
        at, event, contact = Value(now), Value(None, output_field=IntegerField()), F("pk")
    source = source.annotate(
        e_contact=contact, e_rule=Value(rule.pk), e_name=Value(rule.name), e_event=event,
        e_dimension=Value(rule.dimension), e_points=Value(rule.points), e_at=at,
    ).values_list("e_contact", "e_rule", "e_name", "e_event", "e_dimension", "e_points", "e_at")  # fmt: skip
    sql, params = source.query.sql_with_params()
    table = connection.ops.quote_name(ScoreEntry._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ENTRY_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
        return max(cursor.rowcount, 0)


# --- explaining a score --------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    rule: str
    dimension: str
    points: float


def explain(contact: Contact) -> list[Contribution]:
    """Why this score: the live points per rule (engagement decayed to now), biggest first."""
    config = scoring_settings()
    now = clock.now()
    per_rule: dict[tuple[str, str], float] = {}
    live = ScoreEntry.objects.filter(contact=contact, voided_at__isnull=True)
    for name, dimension, points, at in live.values_list("rule_name", "dimension", "points", "at"):
        value = (
            decayed(points, at, now, config.half_life_days) if dimension == ScoreEntry.Dimension.ENGAGEMENT else points
        )
        per_rule[(name, dimension)] = per_rule.get((name, dimension), 0.0) + value
    contributions = [Contribution(name, dim, round(value, 1)) for (name, dim), value in per_rule.items()]
    return sorted((c for c in contributions if c.points), key=lambda c: -abs(c.points))
