"""The board of one pipeline: per stage, the count, total and weighted total of open deals and the first cards.

A fixed number of queries whatever the size of the book: the stages, one grouped count/sum (read from the
deal_totals index), and per stage the first cards along the deal_board index, each with its next step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from nurture.core.money import DEFAULT_CURRENCY
from nurture.sales.models import Deal, Pipeline, PipelineStage, Task

CARDS_PER_STAGE = 50
# What a card shows (and the API returns): the contact's and owner's names, not their whole rows.
CARD_FIELDS = (
    "title", "pipeline_id", "stage_id", "contact_id", "company_id", "owner_id", "amount", "currency", "products",
    "expected_close", "source", "medium", "campaign", "status", "lost_reason_id", "lost_note", "version",
    "stage_entered_at", "last_activity_at", "created_at", "closed_at",
    "contact__full_name", "contact__email", "contact__phone",
    "owner__username", "owner__first_name", "owner__last_name",
)  # fmt: skip


@dataclass
class Column:
    stage: PipelineStage
    cards: list[Deal]
    count: int = 0
    # Per currency, VND first: amounts in different currencies are never added together.
    totals: dict[str, int] = field(default_factory=dict)
    weighted: dict[str, int] = field(default_factory=dict)

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


@dataclass(frozen=True)
class BoardFilter:
    owner_id: int | None = None
    team_id: int | None = None
    close_from: date | None = None
    close_to: date | None = None

    def apply(self, deals: QuerySet[Deal]) -> QuerySet[Deal]:
        if self.owner_id:
            deals = deals.filter(owner_id=self.owner_id)
        if self.team_id:
            deals = deals.filter(owner__team_id=self.team_id)
        if self.close_from:
            deals = deals.filter(expected_close__gte=self.close_from)
        if self.close_to:
            deals = deals.filter(expected_close__lte=self.close_to)
        return deals


def with_next_step(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    """Each deal's next step: its open task due first."""
    first = Task.objects.filter(deal=OuterRef("pk"), done_at__isnull=True).order_by("due_at", "id")
    return deals.annotate(
        next_step=Subquery(first.values("title")[:1]), next_step_due=Subquery(first.values("due_at")[:1])
    )


def build(pipeline: Pipeline, deals: QuerySet[Deal], now: datetime, *, cards: int = CARDS_PER_STAGE) -> list[Column]:
    """`deals`: the visible deals, already filtered; only open ones are on the board."""
    open_deals = deals.filter(pipeline=pipeline, status=Deal.Status.OPEN)
    stages = list(pipeline.stages.order_by("position", "id"))
    sums: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for row in open_deals.order_by().values("stage_id", "currency").annotate(n=Count("*"), total=Sum("amount")):
        sums[row["stage_id"]][row["currency"]] = (row["n"], row["total"] or 0)
    columns = []
    for stage in stages:
        per_currency = sorted(sums[stage.pk].items(), key=lambda kv: (kv[0] != DEFAULT_CURRENCY, kv[0]))
        shown = list(
            with_next_step(open_deals.filter(stage=stage))
            .select_related("contact", "owner")
            .only(*CARD_FIELDS)
            .order_by("-stage_entered_at", "-id")[:cards]
        )
        for deal in shown:
            deal.stage = stage  # already known: no query per card
            deal.rotting = deal.rotting_since(now)  # type: ignore[attr-defined]
            deal.overdue = deal.next_step_due is not None and deal.next_step_due < now  # type: ignore[attr-defined]
        columns.append(
            Column(
                stage=stage,
                cards=shown,
                count=sum(n for n, _ in sums[stage.pk].values()),
                totals={cur: total for cur, (_, total) in per_currency},
                weighted={cur: total * stage.probability // 100 for cur, (_, total) in per_currency},
            )  # fmt: skip
        )
    return columns
