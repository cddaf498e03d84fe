"""The board of one pipeline: per stage, the count, total and weighted total of open deals and the first cards.

A fixed number of queries whatever the size of the book: the stages, one grouped count/sum (read from the
deal_totals index), and per stage the first cards along the deal_board index, each with its next step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core.money import DEFAULT_CURRENCY
from nurture.sales.models import Deal, Pipeline, PipelineStage, Task, rotting_since

CARDS_PER_STAGE = 50
# What a card shows, read as plain rows: building 250 deals with their contacts and owners as model instances
# cost more than the rest of the board together (bench/pipeline.py).
CARD_FIELDS = (
    "pk", "title", "version", "amount", "currency", "expected_close", "last_activity_at", "contact_id",
    "contact__full_name", "contact__email", "contact__phone", "owner__first_name", "owner__last_name",
    "owner__username", "next_step", "next_step_due",
)  # fmt: skip


@dataclass(slots=True)
class Card:
    pk: int
    title: str
    version: int
    amount: int
    currency: str
    expected_close: date | None
    contact: str
    owner: str  # blank: no owner
    next_step: str | None
    next_step_due: datetime | None
    last_activity_at: datetime
    rotting: bool
    overdue: bool


@dataclass
class Column:
    stage: PipelineStage
    cards: list[Card]
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
        rows = (
            with_next_step(open_deals.filter(stage=stage))
            .order_by("-stage_entered_at", "-id")
            .values_list(*CARD_FIELDS)[:cards]
        )
        shown = [
            Card(pk, title, version, amount, currency, close, Contact.label(full_name, email, phone, contact_id),
                 User.name_of(first, last, username) if username else "", step, due, last_activity,
                 rotting_since(last_activity, stage.rotting_days, now) is not None, due is not None and due < now)
            for (pk, title, version, amount, currency, close, last_activity, contact_id, full_name, email, phone, first,
                 last, username, step, due) in rows
        ]  # fmt: skip
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
