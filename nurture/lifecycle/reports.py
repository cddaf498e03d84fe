"""Time in stage and stage-to-stage conversion, computed from the stage history in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.lifecycle.models import Stage, StageChange, StageSet

# Days between two timestamps on each database.
DAYS_BETWEEN = {
    "postgresql": "EXTRACT(EPOCH FROM (left_at - at)) / 86400.0",
    "sqlite": "(julianday(left_at) - julianday(at))",
}
# Each stint in a stage: when the contact entered it and when it left (NULL while still there).
STINTS_SQL = """
WITH stints AS (
    SELECT sc.to_stage_id AS stage_id, sc.at AS at,
           LEAD(sc.at) OVER (PARTITION BY sc.contact_id ORDER BY sc.at, sc.id) AS left_at
    FROM lifecycle_stagechange sc
    JOIN contacts_contact c ON c.id = sc.contact_id AND c.merged_into_id IS NULL
    JOIN lifecycle_stage s ON s.id = sc.to_stage_id AND s.stage_set_id = %s
)
SELECT stage_id, COUNT(left_at), AVG({days}), MAX({days})
FROM stints WHERE at >= %s AND at < %s AND left_at IS NOT NULL
GROUP BY stage_id
"""


@dataclass
class StageRow:
    stage: Stage
    now: int  # contacts in the stage today
    entered: int  # contacts that entered it in the period
    moved_on: int  # ... and later reached a further stage that is not a loss
    left: int  # stints in the period that have ended
    avg_days: float | None  # average time in the stage of those stints

    @property
    def conversion(self) -> float | None:
        return self.moved_on / self.entered if self.entered else None


def _entries(stage_set: StageSet, since: datetime, until: datetime) -> Q:
    return Q(to_stage__stage_set=stage_set, at__gte=since, at__lt=until, contact__merged_into__isnull=True)


def _reached_later(stage_filter: Q) -> Exists:
    """The contact of an entry reached a stage matching `stage_filter` at or after that entry."""
    later = StageChange.objects.filter(contact_id=OuterRef("contact_id"), at__gte=OuterRef("at")).filter(stage_filter)
    return Exists(later)


def stage_report(stage_set: StageSet, since: datetime, until: datetime | None = None) -> list[StageRow]:
    until = until or clock.now()
    stages = list(stage_set.stages.order_by("position"))
    now_counts = dict(
        Contact.objects.filter(merged_into__isnull=True, stage__stage_set=stage_set)
        .values_list("stage_id")
        .annotate(n=Count("pk"))
    )
    durations: dict[int, tuple[int, float | None]] = {}
    with connection.cursor() as cursor:
        cursor.execute(STINTS_SQL.format(days=DAYS_BETWEEN[connection.vendor]), [stage_set.pk, since, until])
        for stage_id, left, avg_days, _longest in cursor.fetchall():
            durations[stage_id] = (left, float(avg_days) if avg_days is not None else None)
    rows = []
    for stage in stages:
        further = Q(to_stage__stage_set=stage_set, to_stage__position__gt=stage.position) & ~Q(
            to_stage__outcome=Stage.Outcome.LOST
        )
        entries = StageChange.objects.filter(_entries(stage_set, since, until), to_stage=stage)
        counts = entries.aggregate(
            entered=Count("contact", distinct=True),
            moved_on=Count("contact", distinct=True, filter=Q(_reached_later(further))),
        )
        left, avg_days = durations.get(stage.pk, (0, None))
        rows.append(StageRow(stage, now_counts.get(stage.pk, 0), counts["entered"], counts["moved_on"], left, avg_days))
    return rows


@dataclass
class Conversion:
    from_stage: Stage
    to_stage: Stage
    entered: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


def conversion(from_stage: Stage, to_stage: Stage, since: datetime, until: datetime | None = None) -> Conversion:
    """Of the contacts that entered `from_stage` in the period, how many later reached `to_stage`."""
    until = until or clock.now()
    entries = StageChange.objects.filter(_entries(from_stage.stage_set, since, until), to_stage=from_stage)
    counts = entries.aggregate(
        entered=Count("contact", distinct=True),
        converted=Count("contact", distinct=True, filter=Q(_reached_later(Q(to_stage=to_stage)))),
    )
    return Conversion(from_stage, to_stage, counts["entered"], counts["converted"])
