"""The active users, held per process until a user changes (core.revisions): the choices of the owner, assignee
and rep pickers that nearly every page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nurture.accounts.models import User
from nurture.core import revisions

REVISION = "people"


@dataclass(frozen=True)
class Person:
    pk: int
    username: str
    name: str  # as User.display_name
    role: str


def active() -> tuple[Person, ...]:
    """Every active user, by username."""
    return revisions.snapshot(REVISION, _build)


def _build() -> tuple[Person, ...]:
    rows = User.objects.filter(is_active=True).order_by("username")
    return tuple(
        Person(pk, username, User.name_of(first, last, username), role)
        for pk, username, first, last, role in rows.values_list("pk", "username", "first_name", "last_name", "role")
    )


def login_only(user: Any, kwargs: dict[str, Any]) -> bool:
    """A save that only stamps the last login: it changes nothing that configuration or pickers read."""
    return kwargs.get("update_fields") == frozenset({"last_login"})


def watch() -> None:
    revisions.watch(REVISION, User, ignore=login_only)
