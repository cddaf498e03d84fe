"""Conditions on contacts and events, compiled to Django `Q` objects (one SQL query, both databases).

One language for points rules, segments and lifecycle rules. A condition is JSON:

    {"field": "province", "op": "eq", "value": "Hà Nội"}
    {"all": [...]}  {"any": [...]}  {"not": {...}}
    {"event": "webinar_attended", "within_days": 30, "min_count": 1, "where": [<event conditions>]}

Event conditions use the same shape with the fields `type`, `source`, `at` and `data.<key>[.<key>...]`
(the event's properties). Anything unknown is refused with a `ConditionError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from nurture.core import clock


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the part at fault."""


@dataclass(frozen=True)
class Field:
    lookup: str  # the ORM path on the model the condition filters
    kind: str  # text | number | date | choice | tags
    label: Any


CONTACT_FIELDS: dict[str, Field] = {
    "full_name": Field("name_folded", "text", _("Name")),
    "email": Field("email", "text", _("Email")),
    "email_domain": Field("email", "domain", _("Email domain")),
    "phone": Field("phone", "text", _("Phone")),
    "gender": Field("gender", "text", _("Gender")),
    "job_title": Field("job_title", "text", _("Job title")),
    "industry": Field("industry", "text", _("Industry")),
    "province": Field("province", "text", _("Province")),
    "company": Field("company__name", "text", _("Company")),
    "source": Field("source", "text", _("Source")),
    "medium": Field("medium", "text", _("Medium")),
    "campaign": Field("campaign", "text", _("Campaign")),
    "need": Field("need", "text", _("Need")),
    "stage": Field("stage__key", "text", _("Stage")),
    "owner": Field("owner__username", "text", _("Owner")),
    "score": Field("score", "number", _("Score")),
    "fit_score": Field("fit_score", "number", _("Fit score")),
    "engagement_score": Field("engagement_score", "number", _("Engagement score")),
    "band": Field("band", "text", _("Band")),
    "tag": Field("tags__name", "tags", _("Tag")),
    "created_at": Field("created_at", "date", _("Created")),
    "last_activity_at": Field("last_activity_at", "date", _("Last activity")),
    "birth_date": Field("birth_date", "date", _("Birth date")),
    "confirmed": Field("", "checklist", _("Confirmed checklist items")),
    "bant_complete": Field("bant", "framework", _("BANT complete")),
    "champ_complete": Field("champ", "framework", _("CHAMP complete")),
}
EVENT_FIELDS: dict[str, Field] = {
    "type": Field("type", "text", _("Event type")),
    "source": Field("source", "text", _("Source")),
    "at": Field("at", "date", _("Time")),
}
OPS_BY_KIND = {
    "text": ("eq", "ne", "in", "not_in", "contains", "starts_with", "is_empty", "is_not_empty"),
    "domain": ("eq", "ne", "in", "not_in"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in"),
    "date": ("before", "after", "within_days", "more_than_days_ago", "is_empty", "is_not_empty"),
    "tags": ("eq", "ne", "in", "not_in"),
    "checklist": ("has", "lacks"),
    "framework": ("eq",),
    "data": ("eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_empty", "is_not_empty"),
}
MAX_DEPTH = 6


def contact_q(condition: Mapping[str, Any]) -> Q:
    """The `Q` on Contact for a condition; raises ConditionError when it is not valid."""
    return _compile(condition, _contact_leaf, "", 0)


def event_q(condition: Mapping[str, Any] | list[Any]) -> Q:
    """The `Q` on Event for event conditions (a list means all of them)."""
    if isinstance(condition, list):
        condition = {"all": condition}
    return _compile(condition, _event_leaf, "", 0)


def _compile(condition: Any, leaf: Callable[[Mapping[str, Any], str], Q], where: str, depth: int) -> Q:
    if not isinstance(condition, Mapping):
        raise ConditionError(f"{where or 'condition'}: expected an object")
    if depth > MAX_DEPTH:
        raise ConditionError(f"{where}: nested too deeply")
    for group in ("all", "any"):
        if group in condition:
            parts = condition[group]
            if not isinstance(parts, list) or not parts:
                raise ConditionError(f"{where}{group}: expected a non-empty list")
            compiled = [_compile(part, leaf, f"{where}{group}[{i}].", depth + 1) for i, part in enumerate(parts)]
            result = compiled[0]
            for q in compiled[1:]:
                result = result & q if group == "all" else result | q
            return result
    if "not" in condition:
        return ~_compile(condition["not"], leaf, f"{where}not.", depth + 1)
    return leaf(condition, where)


def _contact_leaf(condition: Mapping[str, Any], where: str) -> Q:
    if "event" in condition:
        return _has_event(condition, where)
    name = condition.get("field")
    spec = CONTACT_FIELDS.get(name) if isinstance(name, str) else None
    if spec is None and isinstance(name, str) and name.startswith("custom."):
        spec = Field("custom_fields__" + name.removeprefix("custom.").replace(".", "__"), "data", name)
    if spec is None:
        raise ConditionError(f"{where}field: unknown field {name!r}")
    return _leaf(spec, condition, where)


def _event_leaf(condition: Mapping[str, Any], where: str) -> Q:
    name = condition.get("field")
    spec = EVENT_FIELDS.get(name) if isinstance(name, str) else None
    if spec is None and isinstance(name, str) and name.startswith("data.") and len(name) > 5:
        spec = Field("data__" + name.removeprefix("data.").replace(".", "__"), "data", name)
    if spec is None:
        raise ConditionError(f"{where}field: unknown event field {name!r}")
    return _leaf(spec, condition, where)


def _has_event(condition: Mapping[str, Any], where: str) -> Q:
    """The contact has at least `min_count` events of a type (within the last N days, matching `where`)."""
    from nurture.contacts.models import Event

    event_type = condition.get("event")
    if not isinstance(event_type, str) or not event_type:
        raise ConditionError(f"{where}event: expected an event type")
    events = Event.objects.filter(contact_id=OuterRef("pk"), type=event_type)
    days = condition.get("within_days")
    if days is not None:
        events = events.filter(at__gte=clock.now() - timedelta(days=_number(days, where, "within_days")))
    if condition.get("where"):
        events = events.filter(event_q(condition["where"]))
    count = condition.get("min_count", 1)
    if not isinstance(count, int) or count < 1:
        raise ConditionError(f"{where}min_count: expected a whole number of at least 1")
    if count == 1:
        return Q(Exists(events))
    return Q(Exists(events.values("contact_id").annotate(n=Count("pk")).filter(n__gte=count)))


def _leaf(spec: Field, condition: Mapping[str, Any], where: str) -> Q:
    op = condition.get("op")
    if op not in OPS_BY_KIND[spec.kind]:
        raise ConditionError(f"{where}op: {op!r} does not apply to {condition.get('field')}")
    value = condition.get("value")
    lookup = spec.lookup
    if op == "is_empty":
        return Q(**{f"{lookup}__isnull": True}) | (Q() if spec.kind in ("date", "data") else Q(**{lookup: ""}))
    if op == "is_not_empty":
        return ~_leaf(spec, {**condition, "op": "is_empty"}, where)
    if spec.kind == "date":
        return _date_leaf(lookup, op, value, where)
    if spec.kind in ("checklist", "framework"):
        return _checklist_leaf(spec, op, value, where)
    if spec.kind == "tags":
        return _tags_leaf(op, value, where)
    if spec.kind == "domain":
        values = _list(value, where) if op in ("in", "not_in") else [_text(value, where)]
        q = Q()
        for v in values:
            q |= Q(**{f"{lookup}__iendswith": "@" + str(v).lstrip("@").lower()})
        return ~q if op in ("ne", "not_in") else q
    convert = _number if spec.kind == "number" else _plain if spec.kind == "data" else _text
    if op in ("in", "not_in"):
        q = Q(**{f"{lookup}__in": [convert(v, where) for v in _list(value, where)]})
        return ~q if op == "not_in" else q
    if op == "ne":
        return ~Q(**{lookup: convert(value, where)})
    if spec.kind == "text" and op in ("eq", "contains", "starts_with"):
        # Text compares without case (and names without diacritics: name_folded is folded).
        suffix = {"eq": "iexact", "contains": "icontains", "starts_with": "istartswith"}[op]
        text = _text(value, where)
        if lookup == "name_folded":
            from nurture.core.normalise import fold

            text = fold(text)
        return Q(**{f"{lookup}__{suffix}": text})
    suffix = {"eq": "", "contains": "__icontains", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}[op]
    return Q(**{f"{lookup}{suffix}": convert(value, where)})


def _tags_leaf(op: str, value: Any, where: str) -> Q:
    """A subquery per condition, so that "has tag A and has tag B" can hold (one join could not)."""
    from nurture.contacts.models import Contact

    names = [_text(v, where) for v in _list(value, where)] if op in ("in", "not_in") else [_text(value, where)]
    tagged = Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag__name__in=names)
    return ~Q(Exists(tagged)) if op in ("ne", "not_in") else Q(Exists(tagged))


def _checklist_leaf(spec: Field, op: str, value: Any, where: str) -> Q:
    from nurture.lifecycle.checklists import FRAMEWORKS, ITEMS, confirmed_q

    if spec.kind == "framework":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}value: expected true or false")
        q = confirmed_q(FRAMEWORKS[spec.lookup][1])
        return q if value else ~q
    items = [value] if isinstance(value, str) else _list(value, where)
    unknown = [i for i in items if i not in ITEMS]
    if unknown or not items:
        raise ConditionError(f"{where}value: expected checklist items among {', '.join(ITEMS)}")
    return confirmed_q(items) if op == "has" else ~confirmed_q(items)


def _date_leaf(lookup: str, op: str, value: Any, where: str) -> Q:
    now = clock.now()
    if op == "within_days":
        return Q(**{f"{lookup}__gte": now - timedelta(days=_number(value, where))})
    if op == "more_than_days_ago":
        return Q(**{f"{lookup}__lt": now - timedelta(days=_number(value, where))})
    moment = parse_datetime(value) if isinstance(value, str) else None
    day = parse_date(value) if isinstance(value, str) and moment is None else None
    if moment is None and day is None:
        raise ConditionError(f"{where}value: expected a date (YYYY-MM-DD)")
    bound: date | datetime = moment or day  # type: ignore[assignment]
    return Q(**{f"{lookup}__{'lt' if op == 'before' else 'gt'}": bound})


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or str(value) == "":
        raise ConditionError(f"{where}value: expected text")
    return str(value)


def _plain(value: Any, where: str) -> Any:
    if not isinstance(value, str | int | float | bool):
        raise ConditionError(f"{where}value: expected text, a number or true/false")
    return value


def _number(value: Any, where: str, key: str = "value") -> float:
    if isinstance(value, bool):
        raise ConditionError(f"{where}{key}: expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConditionError(f"{where}{key}: expected a number") from None


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConditionError(f"{where}value: expected a non-empty list")
    return value


# --- the same conditions, tested in memory -----------------------------------------------------------------

Predicate = Callable[[Any], bool]
IN_MEMORY_KINDS = ("text", "domain", "number")


def contact_predicate(condition: Mapping[str, Any]) -> Predicate | None:
    """The condition as a test of a Contact already loaded (its company, stage and owner with it), or None when a
    part of it needs the database (events, tags, checklists, dates, custom fields). Raises ConditionError as
    contact_q does. It answers as contact_q on PostgreSQL: text compares without case, `ne` and `not_in` exactly,
    and an empty value never equals anything.

    Routing tests every new lead against every rule: in memory that is microseconds, where building the query
    that asks the database cost milliseconds."""
    contact_q(condition)
    return _predicate(condition)


def _predicate(condition: Mapping[str, Any]) -> Predicate | None:
    for group, combine in (("all", all), ("any", any)):
        if group in condition:
            parts = [_predicate(part) for part in condition[group]]
            if any(part is None for part in parts):
                return None
            tests: list[Predicate] = parts  # type: ignore[assignment]
            return lambda contact: combine(test(contact) for test in tests)
    if "not" in condition:
        inner = _predicate(condition["not"])
        return None if inner is None else lambda contact: not inner(contact)
    spec = CONTACT_FIELDS.get(condition.get("field"))  # type: ignore[arg-type]
    if spec is None or spec.kind not in IN_MEMORY_KINDS:
        return None
    return _leaf_predicate(spec, condition["op"], condition.get("value"))


def _leaf_predicate(spec: Field, op: str, value: Any) -> Predicate:
    path = spec.lookup.split("__")

    def read(contact: Any) -> Any:
        for name in path:
            contact = getattr(contact, name, None)
            if contact is None:
                return None
        return contact

    if op in ("is_empty", "is_not_empty"):
        empty = op == "is_empty"
        return lambda contact: (read(contact) in (None, "")) == empty
    negated = {"ne": "eq", "not_in": "in"}.get(op)
    if negated and spec.kind == "domain":
        positive = _leaf_predicate(spec, negated, value)
        return lambda contact: read(contact) is None or not positive(contact)
    values = _list(value, "") if op in ("in", "not_in") else [value]
    if negated:  # contact_q compares `ne` and `not_in` exactly, where `eq` ignores case
        convert = _number if spec.kind == "number" else _text
        excluded = {convert(v, "") for v in values}
        as_seen = float if spec.kind == "number" else str
        return lambda contact: read(contact) is None or as_seen(read(contact)) not in excluded
    if spec.kind == "domain":
        suffixes = tuple("@" + str(v).lstrip("@").upper() for v in values)
        return lambda contact: read(contact) is not None and str(read(contact)).upper().endswith(suffixes)
    if spec.kind == "number":
        numbers = {_number(v, "") for v in values}
        bound = _number(value, "") if op != "in" else 0.0
        test: Callable[[float], bool] = {
            "in": lambda x: x in numbers,
            "eq": lambda x: x == bound,
            "gt": lambda x: x > bound,
            "gte": lambda x: x >= bound,
            "lt": lambda x: x < bound,
            "lte": lambda x: x <= bound,
        }[op]
        return lambda contact: read(contact) is not None and test(read(contact))
    if op == "in":
        members = {_text(v, "") for v in values}
        return lambda contact: read(contact) is not None and str(read(contact)) in members
    text = _text(value, "")
    if path == ["name_folded"]:
        from nurture.core.normalise import fold

        text = fold(text)
    wanted = text.upper()
    match: Callable[[str], bool] = {
        "eq": lambda seen: seen == wanted,
        "contains": lambda seen: wanted in seen,
        "starts_with": lambda seen: seen.startswith(wanted),
    }[op]
    return lambda contact: read(contact) is not None and match(str(read(contact)).upper())
