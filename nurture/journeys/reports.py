"""Per-step counters of journeys: how many reached each step, wait there, went on, converted or dropped there."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from nurture.journeys.models import Enrolment, Journey, StepRun


@dataclass
class StepCount:
    step: str
    type: str = ""
    completed: int = 0  # runs of the step (an enrolment on a loop counts once per visit)
    waiting: int = 0  # open enrolments at the step: waiting, or about to run it
    converted: int = 0  # reached the goal while at the step
    dropped: int = 0  # exited (unsubscribed, merged, archived, by hand) or failed at the step

    @property
    def entered(self) -> int:
        # Every arrival at a step ends in exactly one of these.
        return self.completed + self.waiting + self.converted + self.dropped

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "type": self.type, "entered": self.entered, "waiting": self.waiting,
                "completed": self.completed, "converted": self.converted, "dropped": self.dropped}  # fmt: skip


@dataclass
class JourneyCounts:
    steps: dict[str, StepCount] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def on_it(self) -> int:
        """Contacts still on the journey (moving or waiting)."""
        return sum(self.by_status.get(status, 0) for status in Enrolment.OPEN)

    def ordered(self, graph: dict[str, Any]) -> list[StepCount]:
        """The draft's steps in order, then steps only older versions have."""
        order = list(graph.get("order") or [])
        return [self.steps[s] for s in order if s in self.steps] + [c for s, c in self.steps.items() if s not in order]


AT_STEP: dict[str, str] = {
    Enrolment.Status.ACTIVE: "waiting", Enrolment.Status.WAITING: "waiting", Enrolment.Status.CONVERTED: "converted",
    Enrolment.Status.EXITED: "dropped", Enrolment.Status.FAILED: "dropped",
}  # fmt: skip


def counts(journeys: Iterable[Journey]) -> dict[int, JourneyCounts]:
    """The counters of these journeys: two grouped queries whatever their size."""
    journeys = list(journeys)
    result = {j.pk: JourneyCounts() for j in journeys}
    types: dict[int, dict[str, str]] = defaultdict(dict)
    for journey in journeys:
        for step_id, step in (journey.graph.get("steps") or {}).items():
            types[journey.pk][step_id] = step.get("type", "")
            result[journey.pk].steps[step_id] = StepCount(step_id, step.get("type", ""))

    def at(journey_id: int, step: str) -> StepCount:
        return result[journey_id].steps.setdefault(step, StepCount(step, types[journey_id].get(step, "")))

    runs = StepRun.objects.filter(journey__in=journeys).values("journey_id", "step").annotate(n=Count("pk"))
    for row in runs.order_by():
        at(row["journey_id"], row["step"]).completed = row["n"]
    states = Enrolment.objects.filter(journey__in=journeys).values("journey_id", "step", "status")
    for row in states.annotate(n=Count("pk")).order_by():
        totals = result[row["journey_id"]].by_status
        totals[row["status"]] = totals.get(row["status"], 0) + row["n"]
        counter = AT_STEP.get(row["status"])
        if counter:
            count = at(row["journey_id"], row["step"])
            setattr(count, counter, getattr(count, counter) + row["n"])
    return result
