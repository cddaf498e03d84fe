"""The journey graph: its JSON shape, its validation, and how a step leads to the next one.

    {"order": ["welcome", "wait1", "hot?"],
     "steps": {"welcome": {"type": "send_email", "template": 12},
               "wait1": {"type": "wait", "days": 2},
               "hot?": {"type": "branch", "condition": {...}, "yes": "call", "no": "welcome"}, ...}}

`order` is the editor's order (PostgreSQL's jsonb does not keep the keys of `steps` in order): the first step
is where enrolments start, and a step without `next` goes on to the one after it in `order` (or ends the
journey after the last). Validation names the step at fault in each problem it reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from nurture.contacts.conditions import ConditionError, contact_q, event_q
from nurture.contacts.models import Contact
from nurture.lifecycle import stages

STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
EVENT_TYPE = re.compile(r"^[a-z0-9_.:-]{1,40}$")
# Variables a journey passes to message templates besides messaging's own: see docs/journeys.md.
TEMPLATE_VARIABLES = ("journey", "event")
MAX_STEPS = 100

SEND_CHANNEL = {"send_email": "email", "send_sms": "sms", "send_zalo": "zalo"}
WAITS = ("wait", "wait_until", "wait_event")
STEP_TYPES: dict[str, Any] = {
    "send_email": gettext_lazy("Send an email"),
    "send_sms": gettext_lazy("Send an SMS"),
    "send_zalo": gettext_lazy("Send a Zalo message"),
    "notify_owner": gettext_lazy("Notify the owner"),
    "call_task": gettext_lazy("Call task for the owner"),
    "update_field": gettext_lazy("Update a field"),
    "add_tag": gettext_lazy("Add a tag"),
    "remove_tag": gettext_lazy("Remove a tag"),
    "change_stage": gettext_lazy("Change the stage"),
    "add_points": gettext_lazy("Add points (an event scored by the points rules)"),
    "assign": gettext_lazy("Assign an owner"),
    "webhook": gettext_lazy("Call a webhook"),
    "enrol": gettext_lazy("Enrol in another journey"),
    "wait": gettext_lazy("Wait"),
    "wait_until": gettext_lazy("Wait until a weekday and time"),
    "wait_event": gettext_lazy("Wait for an event"),
    "branch": gettext_lazy("Branch: yes / no"),
    "split": gettext_lazy("A/B split"),
    "exit": gettext_lazy("Exit"),
}
UPDATABLE = ("full_name", "gender", "birth_date", "job_title", "industry", "province", "address", "need",
             "preferred_contact_time")  # fmt: skip
WEEKDAYS = range(7)  # Monday = 0, as Python counts


@dataclass(frozen=True)
class Problem:
    step: str  # "" for the graph as a whole
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.step}.{self.field}: {self.message}" if self.step else f"{self.field}: {self.message}"


def empty() -> dict[str, Any]:
    return {"order": [], "steps": {}}


def start_of(graph: Mapping[str, Any]) -> str | None:
    order = graph.get("order") or []
    return order[0] if order else None


def next_of(graph: Mapping[str, Any], step_id: str, key: str = "next") -> str | None:
    """Where `step_id` goes by `key` ("next", "yes", "timeout_next" ...): the named step, or the one after it in
    `order`; None ends the journey."""
    step = graph["steps"][step_id]
    if step.get(key):
        return str(step[key])
    if key == "timeout_next" and step.get("next"):
        return str(step["next"])
    order = graph["order"]
    at = order.index(step_id)
    return order[at + 1] if at + 1 < len(order) else None


def targets(graph: Mapping[str, Any], step_id: str) -> Iterator[tuple[str, str | None]]:
    """(label, target) of every way out of a step; None is the end of the journey."""
    step = graph["steps"][step_id]
    kind = step.get("type")
    if kind == "exit":
        return
    if kind == "branch":
        yield "yes", step.get("yes")
        yield "no", step.get("no")
    elif kind == "split":
        for arm in step.get("arms") or []:
            yield str(arm.get("name", "")), arm.get("next")
    elif kind == "wait_event":
        yield "event", next_of(graph, step_id)
        yield "timeout", next_of(graph, step_id, "timeout_next")
    else:
        yield "", next_of(graph, step_id)


def wait_delta(params: Mapping[str, Any]) -> timedelta:
    return timedelta(days=params.get("days") or 0, hours=params.get("hours") or 0, minutes=params.get("minutes") or 0)


def contact_zone(contact: Contact) -> ZoneInfo:
    """The contact's time zone: custom field `time_zone` when it names one, else the site's (Asia/Ho_Chi_Minh)."""
    name = (contact.custom_fields or {}).get("time_zone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(settings.TIME_ZONE)


def next_weekday_time(now: datetime, weekday: int | None, hh_mm: str, zone: ZoneInfo) -> datetime:
    """The first moment after `now` that is `hh_mm` on `weekday` (any day when None) in `zone`."""
    hour, minute = (int(x) for x in hh_mm.split(":"))
    local = now.astimezone(zone)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if weekday is not None and day.weekday() != weekday:
            continue
        moment = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if moment > now:
            return moment
    raise AssertionError("a weekday comes round within 8 days")


def split_arm(arms: Sequence[Mapping[str, Any]], enrolment_id: int, step_id: str) -> Mapping[str, Any]:
    """The arm of a split for this enrolment: the same every time (a retried batch chooses the same), spread by
    the percentages over many enrolments (Knuth's multiplicative hash of the id, salted by the step)."""
    salt = sum(ord(c) * 31**i for i, c in enumerate(step_id)) & 0xFFFFFFFF
    bucket = (((enrolment_id ^ salt) * 2654435761) & 0xFFFFFFFF) % 10000 / 100
    total = 0.0
    for arm in arms:
        total += float(arm["percent"])
        if bucket < total:
            return arm
    return arms[-1]


# --- validation ---------------------------------------------------------------------------------------------


def validate(
    graph: Any, *, templates: Mapping[int, Any] | None = None, journeys: set[int] | None = None
) -> list[Problem]:
    """Every problem of a graph, each naming its step. `templates` (id -> Template) and `journeys` (ids) are
    what send and enrol steps may name; without them those references are not checked."""
    if not isinstance(graph, Mapping):
        return [Problem("", "graph", _("expected an object with “order” and “steps”"))]
    steps, order = graph.get("steps"), graph.get("order")
    if not isinstance(steps, Mapping) or not isinstance(order, list):
        return [Problem("", "graph", _("expected an object with “order” and “steps”"))]
    problems: list[Problem] = []
    if len(steps) > MAX_STEPS:
        problems.append(Problem("", "steps", _("at most %(n)d steps") % {"n": MAX_STEPS}))
    if sorted(map(str, order)) != sorted(steps) or len(set(order)) != len(order):
        return [Problem("", "order", _("“order” must list every step once"))]
    for step_id in order:
        if not STEP_ID.match(step_id):
            problems.append(Problem(step_id, "id", _("use letters, digits, “-” and “_” (at most 50)")))
            continue
        problems += _check_step(graph, step_id, templates, journeys)
    if problems:
        return problems
    return _check_shape(graph)


def _check_step(
    graph: Mapping[str, Any], step_id: str, templates: Mapping[int, Any] | None, journeys: set[int] | None
) -> list[Problem]:
    step = graph["steps"][step_id]
    if not isinstance(step, Mapping):
        return [Problem(step_id, "type", _("a step is an object"))]
    kind = step.get("type")
    if kind not in STEP_TYPES:
        return [Problem(step_id, "type", _("unknown step type %(type)r") % {"type": kind})]
    problems: list[Problem] = []

    def need(ok: bool, field: str, message: str) -> None:
        if not ok:
            problems.append(Problem(step_id, field, message))

    def target(key: str, required: bool) -> None:
        value = step.get(key)
        if value in (None, ""):
            need(not required, key, _("missing target: choose the step it goes to"))
        else:
            need(value in graph["steps"], key, _("missing target: no step %(id)r") % {"id": value})

    def text(key: str, limit: int = 2000) -> None:
        value = step.get(key)
        need(isinstance(value, str) and 0 < len(value.strip()) <= limit, key, _("required text"))

    target("next", False)
    if kind in SEND_CHANNEL:
        problems += _check_template(step_id, step, templates)
        if kind == "send_zalo":
            need(step.get("fallback", "skip") in ("sms", "skip"), "fallback", _("“sms” or “skip”"))
    elif kind == "notify_owner":
        text("title", 200)
    elif kind == "call_task":
        text("script")
    elif kind == "update_field":
        field = step.get("field")
        known = field in UPDATABLE or (isinstance(field, str) and re.match(r"^custom\.\w{1,50}$", field))
        need(bool(known), "field", _("a contact field or custom.<name>"))
        need("value" in step, "value", _("required"))
    elif kind in ("add_tag", "remove_tag"):
        text("tag", 60)
    elif kind == "change_stage":
        need(step.get("stage") in {s.key for s in stages.active_stages()}, "stage", _("not a stage of the active set"))
    elif kind == "add_points":
        need(isinstance(step.get("event"), str) and bool(EVENT_TYPE.match(step["event"])), "event",
             _("an event type (lower case, e.g. journey_reward)"))  # fmt: skip
    elif kind == "assign":
        from nurture.accounts.models import User

        user = step.get("user")
        need(not user or User.objects.filter(username=user, is_active=True).exists(), "user", _("no such active user"))
    elif kind == "webhook":
        url = step.get("url")
        need(isinstance(url, str) and url.startswith(("http://", "https://")), "url", _("an http(s) URL"))
    elif kind == "enrol":
        other = step.get("journey")
        need(isinstance(other, int) and (journeys is None or other in journeys), "journey", _("no such journey"))
    elif kind == "wait":
        problems += _check_delta(step_id, step, "")
    elif kind == "wait_until":
        weekday = step.get("weekday")
        need(weekday is None or weekday in WEEKDAYS, "weekday", _("0 (Monday) to 6 (Sunday), or empty"))
        need(isinstance(step.get("time"), str) and bool(HH_MM.match(step["time"])), "time", _("HH:MM"))
    elif kind == "wait_event":
        need(isinstance(step.get("event"), str) and bool(EVENT_TYPE.match(step["event"])), "event",
             _("an event type"))  # fmt: skip
        if step.get("where"):
            try:
                event_q(step["where"])
            except ConditionError as exc:
                problems.append(Problem(step_id, "where", str(exc)))
        if step.get("timeout") is not None:
            problems += _check_delta(step_id, step["timeout"], "timeout.")
        target("timeout_next", False)
    elif kind == "branch":
        try:
            contact_q(step.get("condition") or {})
        except ConditionError as exc:
            problems.append(Problem(step_id, "condition", str(exc)))
        target("yes", True)
        target("no", True)
    elif kind == "split":
        problems += _check_split(graph, step_id, step)
    return problems


def _check_delta(step_id: str, params: Any, prefix: str) -> list[Problem]:
    if not isinstance(params, Mapping):
        return [Problem(step_id, prefix.rstrip(".") or "days", _("expected days, hours or minutes"))]
    for unit in ("days", "hours", "minutes"):
        value = params.get(unit)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return [Problem(step_id, prefix + unit, _("a whole number ≥ 0"))]
    if wait_delta(params) <= timedelta(0) or wait_delta(params) > timedelta(days=3650):
        return [Problem(step_id, prefix + "days", _("a duration above zero (days, hours or minutes)"))]
    return []


def _check_split(graph: Mapping[str, Any], step_id: str, step: Mapping[str, Any]) -> list[Problem]:
    arms = step.get("arms")
    if not isinstance(arms, list) or len(arms) < 2:
        return [Problem(step_id, "arms", _("at least two arms"))]
    problems = []
    total = 0.0
    for i, arm in enumerate(arms):
        percent = arm.get("percent") if isinstance(arm, Mapping) else None
        if not isinstance(percent, int | float) or isinstance(percent, bool) or not 0 < percent <= 100:
            problems.append(Problem(step_id, f"arms.{i}.percent", _("a percentage above 0")))
            continue
        total += percent
        if not arm.get("name"):
            problems.append(Problem(step_id, f"arms.{i}.name", _("required text")))
        if arm.get("next") not in graph["steps"]:
            problems.append(Problem(step_id, f"arms.{i}.next", _("missing target: choose the step it goes to")))
    if not problems and abs(total - 100) > 0.001:
        problems.append(Problem(step_id, "arms", _("the percentages add up to %(total)s, not 100") % {"total": total}))
    return problems


def _check_template(step_id: str, step: Mapping[str, Any], templates: Mapping[int, Any] | None) -> list[Problem]:
    template_id = step.get("template")
    if not isinstance(template_id, int) or isinstance(template_id, bool):
        return [Problem(step_id, "template", _("choose a message template"))]
    if templates is None:
        return []
    template = templates.get(template_id)
    if template is None:
        return [Problem(step_id, "template", _("no template %(id)s") % {"id": template_id})]
    if template.channel != SEND_CHANNEL[step["type"]]:
        return [Problem(step_id, "template", _("a template of another channel (%(channel)s)") % {
            "channel": template.channel})]  # fmt: skip
    from nurture.messaging.rendering import TemplateInvalid, validate_template

    texts = [template.subject, template.body, template.sms_body, *map(str, template.zns_params.values())]
    try:
        unknown = validate_template(texts, extra=TEMPLATE_VARIABLES)
    except TemplateInvalid as exc:
        return [Problem(step_id, "template", str(exc))]
    if unknown:
        return [
            Problem(step_id, "template", _("unknown template variables: %(names)s") % {"names": ", ".join(unknown)})
        ]
    return []


def _check_shape(graph: Mapping[str, Any]) -> list[Problem]:
    """Unreachable steps, and loops a contact could go round without ever waiting (the engine would spin)."""
    order: list[str] = graph["order"]
    if not order:
        return []
    edges = {s: [t for _label, t in targets(graph, s) if t is not None] for s in order}
    seen, stack = {order[0]}, [order[0]]
    while stack:
        for t in edges[stack.pop()]:
            if t not in seen:
                seen.add(t)
                stack.append(t)
    problems = [Problem(s, "id", _("unreachable: no step leads here")) for s in order if s not in seen]
    # A cycle in the graph without its wait steps' outgoing edges is a loop that never waits.
    quick = {s: [] if graph["steps"][s]["type"] in WAITS else edges[s] for s in order}
    state: dict[str, int] = {}  # 1: on the path being explored, 2: done

    def visit(node: str) -> str | None:
        state[node] = 1
        for t in quick[node]:
            if state.get(t) == 1:
                return t
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[node] = 2
        return None

    for s in order:
        if s not in state:
            looped = visit(s)
            if looped:
                problems.append(Problem(looped, "next", _("a loop without a wait step: add a wait on the way back")))
                break
    return problems


def channels(graph: Mapping[str, Any]) -> set[str]:
    """The channels a graph sends on (a Zalo step that falls back to SMS sends on both)."""
    used = set()
    for step in (graph.get("steps") or {}).values():
        channel = SEND_CHANNEL.get(step.get("type"))
        if channel:
            used.add(channel)
            if channel == "zalo" and step.get("fallback") == "sms":
                used.add("sms")
    return used
