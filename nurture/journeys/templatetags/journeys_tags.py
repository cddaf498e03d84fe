"""The journey drawn as a flow (SVG boxes and arrows, laid out on the server) and the contact page's card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.dates import WEEKDAYS
from django.utils.translation import ngettext

from nurture.contacts.models import Contact
from nurture.core.normalise import fold
from nurture.journeys import graph as graphs
from nurture.journeys.actions import live_journeys
from nurture.journeys.models import Enrolment, Journey
from nurture.journeys.reports import StepCount

register = template.Library()
X, WIDTH, HEIGHT, GAP, LANE = 20, 340, 52, 34, 16
COLOURS = {"send": "#e8f0fe", "wait": "#fff4e0", "branch": "#eef7ee", "exit": "#fdecea"}


def describe(step: Mapping[str, Any], names: Mapping[str, Mapping[Any, str]]) -> str:
    """One line saying what a step does, with the names of the templates and journeys it uses."""
    kind = step.get("type", "")
    label = str(graphs.STEP_TYPES.get(kind, kind))
    detail = ""
    if kind in graphs.SEND_CHANNEL:
        detail = names["templates"].get(step.get("template"), f"#{step.get('template')}")
    elif kind in ("add_tag", "remove_tag"):
        detail = step.get("tag", "")
    elif kind == "wait":
        detail = duration(step)
    elif kind == "wait_until":
        weekday = step.get("weekday")
        detail = f"{step.get('time', '')}" + (f" ({WEEKDAYS[weekday]})" if weekday in WEEKDAYS else "")
    elif kind == "wait_event":
        detail = step.get("event", "")
    elif kind == "enrol":
        detail = names["journeys"].get(step.get("journey"), f"#{step.get('journey')}")
    elif kind in ("notify_owner", "call_task"):
        detail = step.get("title") or step.get("script", "")
    elif kind == "change_stage":
        detail = step.get("stage", "")
    elif kind == "update_field":
        detail = f"{step.get('field')} = {step.get('value')}"
    elif kind == "add_points":
        detail = step.get("event", "")
    elif kind == "webhook":
        detail = step.get("url", "")
    elif kind == "split":
        detail = " / ".join(f"{a.get('name')} {a.get('percent')}%" for a in step.get("arms") or [])
    elif kind == "exit":
        detail = step.get("reason", "")
    return f"{label}: {detail}" if detail else label


def duration(step: Mapping[str, Any]) -> str:
    units = {
        "days": lambda n: ngettext("%(n)d day", "%(n)d days", n),
        "hours": lambda n: ngettext("%(n)d hour", "%(n)d hours", n),
        "minutes": lambda n: ngettext("%(n)d minute", "%(n)d minutes", n),
    }
    return " ".join(text(step[unit]) % {"n": step[unit]} for unit, text in units.items() if step.get(unit))


def names_for(graph: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    from nurture.messaging.models import Template

    steps = (graph.get("steps") or {}).values()
    templates = [s["template"] for s in steps if isinstance(s.get("template"), int)]
    journeys = [s["journey"] for s in steps if isinstance(s.get("journey"), int)]
    # Most pages name neither: an empty lookup still costs a query's compilation.
    return {
        "templates": dict(Template.objects.filter(pk__in=templates).values_list("pk", "name")) if templates else {},
        "journeys": dict(Journey.objects.filter(pk__in=journeys).values_list("pk", "name")) if journeys else {},
    }


def _colour(kind: str) -> str:
    if kind in graphs.SEND_CHANNEL:
        return COLOURS["send"]
    if kind in graphs.WAITS:
        return COLOURS["wait"]
    if kind in ("branch", "split"):
        return COLOURS["branch"]
    return COLOURS["exit"] if kind == "exit" else "#ffffff"


@register.simple_tag
def journey_flow(graph: Mapping[str, Any], counts: Mapping[str, StepCount] | None = None) -> dict[str, Any]:
    """Boxes in the editor's order, top to bottom; an arrow to the step below is straight, any other (a branch,
    a jump, a loop back) runs in its own lane on the right."""
    order = list(graph.get("order") or [])
    index = {s: i for i, s in enumerate(order)}
    names = names_for(graph)
    boxes, edges = [], []
    for i, step_id in enumerate(order):
        step = graph["steps"][step_id]
        count = (counts or {}).get(step_id)
        boxes.append({
            "id": step_id, "x": X, "y": 20 + i * (HEIGHT + GAP), "w": WIDTH, "h": HEIGHT,
            "fill": _colour(step.get("type", "")), "label": describe(step, names)[:48], "count": count,
        })  # fmt: skip
    lanes = 0
    for i, step_id in enumerate(order):
        for label, target in graphs.targets(graph, step_id):
            if target not in index:
                continue
            j, top = index[target], 20 + i * (HEIGHT + GAP)
            if j == i + 1:
                edges.append({"d": f"M{X + WIDTH // 2},{top + HEIGHT} V{top + HEIGHT + GAP - 2}", "label": label,
                              "lx": X + WIDTH // 2 + 6, "ly": top + HEIGHT + GAP // 2 + 4})  # fmt: skip
                continue
            lanes += 1
            lane_x = X + WIDTH + LANE * lanes
            y1, y2 = top + HEIGHT // 2 + (6 if label else 0), 20 + j * (HEIGHT + GAP) + HEIGHT // 2
            edges.append({"d": f"M{X + WIDTH},{y1} H{lane_x} V{y2} H{X + WIDTH + 2}", "label": label,
                          "lx": X + WIDTH + 4, "ly": y1 - 3})  # fmt: skip
    return {"boxes": boxes, "edges": edges, "width": X + WIDTH + LANE * (lanes + 2),
            "height": 20 + len(order) * (HEIGHT + GAP)}  # fmt: skip


@register.simple_tag
def contact_journeys(contact: Contact) -> dict[str, Any]:
    # Prefetched, not joined: most contacts are in no journey, and the joins made their empty query cost three times.
    enrolments = list(Enrolment.objects.filter(contact=contact).prefetch_related("journey", "version")[:20])
    current = {e.pk: e.version.graph["steps"].get(e.step, {}) for e in enrolments}
    names = names_for({"steps": {str(pk): step for pk, step in current.items()}})
    return {
        "enrolments": [(e, describe(current[e.pk], names)) for e in enrolments],
        "live": sorted(live_journeys(), key=lambda j: (fold(j.name), j.name)),  # held: no query per page
    }
