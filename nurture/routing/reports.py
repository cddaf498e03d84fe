"""Speed to lead: response time and SLA compliance per rep and per team, from the assignments."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from nurture.accounts.models import User
from nurture.routing.models import Assignment


@dataclass
class Row:
    name: str
    assigned: int = 0
    responded: int = 0
    with_sla: int = 0
    within_sla: int = 0
    breached: int = 0
    minutes: list[float] = field(default_factory=list)

    @property
    def median_minutes(self) -> float | None:
        return statistics.median(self.minutes) if self.minutes else None

    @property
    def compliance(self) -> float | None:
        return self.within_sla / self.with_sla if self.with_sla else None

    def add(self, at: datetime, responded: datetime | None, due: datetime | None, breached: datetime | None) -> None:
        self.assigned += 1
        if responded:
            self.responded += 1
            self.minutes.append((responded - at).total_seconds() / 60)
        if due:
            self.with_sla += 1
            self.within_sla += bool(responded and responded <= due)
        self.breached += breached is not None


def response_report(since: datetime, until: datetime) -> tuple[list[Row], list[Row]]:
    """Rows per rep and per team for assignments made in [since, until)."""
    users = {u.pk: u for u in User.objects.select_related("team")}
    reps: dict[int, Row] = {}
    teams: dict[str, Row] = {}
    rows = Assignment.objects.filter(at__gte=since, at__lt=until, user__isnull=False).values_list(
        "user_id", "at", "first_response_at", "due_at", "breached_at"
    )
    for user_id, at, responded, due, breached in rows.iterator(chunk_size=5000):
        user = users[user_id]
        reps.setdefault(user_id, Row(user.display_name)).add(at, responded, due, breached)
        team = user.team.name if user.team else "—"
        teams.setdefault(team, Row(team)).add(at, responded, due, breached)
    return sorted(reps.values(), key=lambda r: r.name), sorted(teams.values(), key=lambda r: r.name)
