"""The table predictive scoring learns from: this CRM's own past leads, each as it was before its outcome.

Labels (one example per live contact whose outcome is known; `examples`):
- converted: the contact's first stage change into a stage whose outcome is WON; its features stop at that
  change (the cutoff). A lead that was lost, came back and then bought counts as converted.
- lost: otherwise, the first stage change into a LOST stage (cutoff: that change), or, still in an open stage,
  no activity for `NURTURE_SCORING_LOST_AFTER_DAYS` days (90): the cutoff is the moment it counts as lost,
  last activity + 90 days, which lies after everything the lead ever did.
- not an example: open leads active in the last 90 days (their outcome is not known yet), contacts in a
  won or lost stage with no dated change into it (a stage-set switch), and contacts whose outcome came at
  creation (an imported customer list: they were never leads here, and would teach "imported = buys").
Stage-set switches are not outcomes: they re-file contacts, they do not record a decision.

Features (no leakage): only what was known before the cutoff.
- Attributes that do not follow from the outcome: source, medium, campaign, province, industry, job title,
  gender, email kind (free webmail, company or none), has phone, has company, the commonest custom fields.
  Edits recorded after the cutoff (`updated` events) are undone, so a job title typed in by sales after
  the sale does not reach the row.
- Engagement before the cutoff and after creation: counts per event type (the 20 types most examples have,
  learned from the data; system events such as stage changes, edits, merges, notes, segment moves and
  capture markers are not behaviour), all engagement events, days from creation to the first one, distinct
  active days (local time) and the local hour most of it happened in.
- Never the points score, fit, engagement, band or stage: they are derived from the outcome or move with it.
Open contacts are scored on the same features computed as of now (`current_rows`).

Everything is computed per range of contacts with one aggregate query over events and two over contacts,
so 100,000 contacts cost a few hundred queries, never one per contact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, ExtractHour, TruncDate

from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.lifecycle.models import Stage, StageChange
from nurture.scoring.predict import Column, Row

LABEL = "_converted"  # kept in training rows for predict.train, never a feature column
CHUNK = 2000  # contacts per aggregate query: keeps IN lists short on SQLite and memory flat
MAX_EVENT_TYPES = 20
MAX_CUSTOM_FIELDS = 10
# A custom field becomes a column when at least this share of examples have it.
CUSTOM_FIELD_MIN_SHARE = 0.05

# Not behaviour: written by the system, by staff, or by capture itself (the created/imported marker).
SYSTEM_EVENT_TYPES = frozenset(
    {"created", "imported", "api_captured", "stage_changed", "updated", "merged", "unmerged", "note_added"}
)
SYSTEM_EVENT_PREFIXES = ("segment_",)
ATTRIBUTES = ("source", "medium", "campaign", "province", "industry", "job_title", "gender")
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "ymail.com", "outlook.com", "outlook.com.vn",
    "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "zoho.com", "proton.me",
    "protonmail.com", "gmx.com", "mail.com", "yandex.com",
})  # fmt: skip


def lost_after() -> timedelta:
    return timedelta(days=settings.NURTURE_SCORING_LOST_AFTER_DAYS)


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def engagement_events() -> QuerySet[Event]:
    """Events that are something the lead did (page views, opens, forms, webinars, calls ...)."""
    events = Event.objects.exclude(type__in=SYSTEM_EVENT_TYPES)
    for prefix in SYSTEM_EVENT_PREFIXES:
        events = events.exclude(type__startswith=prefix)
    return events


@dataclass(frozen=True)
class FeatureSpec:
    """What a model reads: stored with its version, so open contacts get exactly the training columns."""

    event_types: tuple[str, ...]
    custom_fields: tuple[str, ...]
    lost_after_days: int
    columns: tuple[Column, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "event_types": list(self.event_types),
            "custom_fields": list(self.custom_fields),
            "lost_after_days": self.lost_after_days,
            "columns": [{"name": c.name, "kind": c.kind} for c in self.columns],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            event_types=tuple(data.get("event_types", ())),
            custom_fields=tuple(data.get("custom_fields", ())),
            lost_after_days=int(data.get("lost_after_days", 0)),
            columns=tuple(Column(c["name"], c["kind"]) for c in data.get("columns", ())),
        )


# --- labels --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    contact_id: int
    converted: bool
    cutoff: datetime  # features use only what happened before this moment
    reason: str  # "won", "lost" or "inactive"


def _first_change(outcome: str, contact: str) -> Subquery:
    changes = StageChange.objects.filter(contact_id=OuterRef(contact), to_stage__outcome=outcome)
    changes = changes.exclude(cause=StageChange.Cause.SWITCH).order_by("at", "id")
    return Subquery(changes.values("at")[:1], output_field=DateTimeField())


def _event_cutoff() -> Combinable:
    """`Example.cutoff` as SQL on an event row: first win, else first loss, else last activity + 90 days."""
    inactive = ExpressionWrapper(F("contact__last_activity_at") + lost_after(), output_field=DateTimeField())
    return Coalesce(
        _first_change(Stage.Outcome.WON, "contact_id"),
        _first_change(Stage.Outcome.LOST, "contact_id"),
        inactive,
        output_field=DateTimeField(),
    )


def examples(*, now: datetime | None = None) -> list[Example]:
    """Every live contact whose outcome is known, with its label and cutoff (one query)."""
    now = now or clock.now()
    contacts = (
        Contact.objects.filter(merged_into__isnull=True)
        .annotate(won_at=_first_change(Stage.Outcome.WON, "pk"), lost_at=_first_change(Stage.Outcome.LOST, "pk"))
        .order_by("pk")
        .values_list("pk", "created_at", "last_activity_at", "stage__outcome", "won_at", "lost_at")
    )
    found = []
    for pk, created_at, last_activity_at, outcome, won_at, lost_at in contacts.iterator(chunk_size=5000):
        if won_at is not None:
            example = Example(pk, True, won_at, "won")
        elif lost_at is not None:
            example = Example(pk, False, lost_at, "lost")
        elif outcome != Stage.Outcome.OPEN:
            continue
        elif last_activity_at + lost_after() <= now:
            example = Example(pk, False, last_activity_at + lost_after(), "inactive")
        else:
            continue
        if example.cutoff > created_at:
            found.append(example)
    return found


# --- features ------------------------------------------------------------------------------------


@dataclass
class Activity:
    """A contact's engagement between its creation and its cutoff."""

    counts: Counter[str] = field(default_factory=Counter)
    first_at: datetime | None = None
    days: set[date] = field(default_factory=set)
    hours: Counter[int] = field(default_factory=Counter)


def _activity(ids: Sequence[int], before: datetime | Combinable) -> dict[int, Activity]:
    """One aggregate query: events per (contact, type, local day, local hour), before each contact's cutoff."""
    zone = local_zone()
    events = engagement_events().filter(contact_id__in=ids, at__gte=F("contact__created_at"))
    if isinstance(before, datetime):
        events = events.filter(at__lt=before)
    else:
        events = events.alias(cutoff=before).filter(at__lt=F("cutoff"))
    groups = (
        events.annotate(day=TruncDate("at", tzinfo=zone), hour=ExtractHour("at", tzinfo=zone))
        .values("contact_id", "type", "day", "hour")
        .annotate(n=Count("id"), first=Min("at"))
        .order_by()
    )
    found: dict[int, Activity] = {}
    for g in groups:
        activity = found.setdefault(g["contact_id"], Activity())
        activity.counts[g["type"]] += g["n"]
        activity.days.add(g["day"])
        activity.hours[g["hour"]] += g["n"]
        if activity.first_at is None or g["first"] < activity.first_at:
            activity.first_at = g["first"]
    return found


CONTACT_FIELDS = (*ATTRIBUTES, "email", "phone", "company_id", "custom_fields", "created_at")


def _attributes(ids: Sequence[int], cutoffs: dict[int, datetime] | None) -> dict[int, dict[str, Any]]:
    """Contact fields, as they were at each cutoff: later audited edits (`updated` events) are undone."""
    found = {row["pk"]: row for row in Contact.objects.filter(pk__in=ids).values("pk", *CONTACT_FIELDS)}
    if not cutoffs:
        return found
    edits = Event.objects.filter(contact_id__in=ids, type=Event.Type.UPDATED, at__gte=min(cutoffs.values()))
    # Newest first: after undoing every edit made at or after the cutoff, a field holds its value then.
    for contact_id, at, data in edits.order_by("-at", "-id").values_list("contact_id", "at", "data"):
        if at < cutoffs[contact_id]:
            continue
        changes = data.get("changes", {}) if isinstance(data, dict) else {}
        for name, pair in changes.items():
            if name in found[contact_id] and isinstance(pair, list) and len(pair) == 2:
                found[contact_id][name] = pair[0]
    return found


def email_kind(email: str | None) -> str:
    if not email or "@" not in email:
        return "none"
    return "free" if email.rsplit("@", 1)[1].lower() in FREE_MAIL_DOMAINS else "company"


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _scalar(value: Any) -> str | float | None:
    """A custom field value as a table cell: numbers stay numbers, yes/no and text become categories."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    return None  # lists and objects: no single value to learn from


def _row(attributes: dict[str, Any], activity: Activity | None, spec: FeatureSpec) -> Row:
    row: Row = {name: _text(attributes[name]) for name in ATTRIBUTES}
    if row["job_title"]:
        row["job_title"] = str(row["job_title"]).casefold()
    row["email_kind"] = email_kind(attributes["email"])
    row["has_phone"] = 1.0 if attributes["phone"] else 0.0
    row["has_company"] = 1.0 if attributes["company_id"] else 0.0
    custom = attributes["custom_fields"] if isinstance(attributes["custom_fields"], dict) else {}
    for key in spec.custom_fields:
        row[f"custom.{key}"] = _scalar(custom.get(key))
    activity = activity or Activity()
    for event_type in spec.event_types:
        row[f"n_{event_type}"] = float(activity.counts[event_type])
    row["n_events"] = float(sum(activity.counts.values()))
    row["active_days"] = float(len(activity.days))
    if activity.first_at is not None:
        row["days_to_first"] = (activity.first_at - attributes["created_at"]).total_seconds() / 86400
        # The commonest local hour; a tie goes to the earlier hour so the value does not depend on query order.
        row["engagement_hour"] = float(min(activity.hours, key=lambda h: (-activity.hours[h], h)))
    else:
        row["days_to_first"] = None
        row["engagement_hour"] = None
    return row


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the tables ----------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    rows: list[Row]  # features plus LABEL (1 converted, 0 lost)
    examples: list[Example]
    spec: FeatureSpec

    @property
    def positives(self) -> int:
        return sum(e.converted for e in self.examples)


def training_set(*, now: datetime | None = None) -> TrainingSet:
    """Every example's features as of its cutoff; event types and custom fields are chosen from the data."""
    found = examples(now=now)
    attributes: dict[int, dict[str, Any]] = {}
    activity: dict[int, Activity] = {}
    for chunk in _chunks(found):
        ids = [e.contact_id for e in chunk]
        attributes.update(_attributes(ids, {e.contact_id: e.cutoff for e in chunk}))
        activity.update(_activity(ids, _event_cutoff()))
    spec = FeatureSpec(
        event_types=_commonest(a.counts for a in activity.values()),
        custom_fields=_custom_fields(attributes.values()),
        lost_after_days=lost_after().days,
    )
    rows = []
    for e in found:
        row = _row(attributes[e.contact_id], activity.get(e.contact_id), spec)
        row[LABEL] = 1.0 if e.converted else 0.0
        rows.append(row)
    return TrainingSet(rows=rows, examples=found, spec=spec)


def _commonest(counts: Iterable[Counter[str]]) -> tuple[str, ...]:
    """The event types most examples have (not most events: one heavy user does not make a type common)."""
    having: Counter[str] = Counter()
    for c in counts:
        having.update(t for t, n in c.items() if n)
    return tuple(sorted(t for t, _ in having.most_common(MAX_EVENT_TYPES)))


def _custom_fields(attributes: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    having: Counter[str] = Counter()
    total = 0
    for a in attributes:
        total += 1
        custom = a["custom_fields"] if isinstance(a["custom_fields"], dict) else {}
        having.update(k for k, v in custom.items() if _scalar(v) is not None)
    enough = max(1, math.ceil(total * CUSTOM_FIELD_MIN_SHARE))
    common = [k for k, n in having.most_common() if n >= enough][:MAX_CUSTOM_FIELDS]
    return tuple(sorted(common))


def current_rows(ids: Sequence[int], spec: FeatureSpec, *, now: datetime | None = None) -> dict[int, Row]:
    """Features of these contacts as of now, in the columns of `spec` (for scoring open leads)."""
    now = now or clock.now()
    rows: dict[int, Row] = {}
    for chunk in _chunks(list(ids)):
        attributes = _attributes(chunk, None)
        activity = _activity(chunk, now)
        rows.update((pk, _row(attributes[pk], activity.get(pk), spec)) for pk in chunk if pk in attributes)
    return rows


def open_contacts() -> QuerySet[Contact]:
    """Live contacts whose outcome is not known yet: the ones a chance to buy is shown for."""
    return Contact.objects.filter(Q(merged_into__isnull=True) & Q(stage__outcome=Stage.Outcome.OPEN))
