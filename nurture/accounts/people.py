"""The users, held per process until one changes (core.revisions): the choices of the owner, assignee and rep
pickers that nearly every page shows, and the users that pages name (owners, actors), given to their rows
instead of joined."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model

from nurture.accounts.models import User
from nurture.core import revisions

REVISION = "people"
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Person:
    pk: int
    username: str
    name: str  # as User.display_name
    role: str


@dataclass(frozen=True)
class _Held:
    active: tuple[Person, ...]
    users: dict[int, User]  # shared by the process's threads: read, never changed


def active() -> tuple[Person, ...]:
    """Every active user, by username."""
    return _held().active


def attach(rows: Iterable[M], *fields: str) -> list[M]:
    """The rows, given their users (`fields`: foreign keys to User) from the held ones (revisions.attach): on a
    contact page, joining the users cost its queries as much again as the rest of their rows."""
    return revisions.attach(rows, fields, _held().users)


def _held() -> _Held:
    return revisions.snapshot(REVISION, _build)


def _build() -> _Held:
    users = {user.pk: user for user in User.objects.order_by("username")}
    return _Held(tuple(Person(u.pk, u.username, u.display_name, u.role) for u in users.values() if u.is_active), users)


def login_only(user: Any, kwargs: dict[str, Any]) -> bool:
    """A save that only stamps the last login: it changes nothing that configuration or pickers read."""
    return kwargs.get("update_fields") == frozenset({"last_login"})


def watch() -> None:
    revisions.watch(REVISION, User, ignore=login_only)
