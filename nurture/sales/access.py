"""Which deals and tasks a user may see. Every view and API handler goes through these two helpers.

The same rule as contacts/access.py: reps see their own and their team's; managers, marketers, admins and API
keys see the whole book.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from nurture.accounts.models import ApiKey, User
from nurture.sales.models import Deal, Task


def _mine(principal: User | ApiKey | Any, field: str) -> Q | None:
    """None: everything; otherwise the Q of what is the principal's or their team's (Q(pk__in=[]) for nobody)."""
    if isinstance(principal, ApiKey):
        return None
    if not isinstance(principal, User) or not principal.is_authenticated:
        return Q(pk__in=[])
    if principal.sees_everything:
        return None
    mine = Q(**{field: principal})
    if principal.team_id:
        mine |= Q(**{f"{field}__team_id": principal.team_id})
    return mine


def visible_deals(principal: User | ApiKey | Any) -> QuerySet[Deal]:
    mine = _mine(principal, "owner")
    qs = Deal.objects.all()
    return qs if mine is None else qs.filter(mine)


def visible_tasks(principal: User | ApiKey | Any) -> QuerySet[Task]:
    mine = _mine(principal, "assignee")
    qs = Task.objects.all()
    return qs if mine is None else qs.filter(mine)
