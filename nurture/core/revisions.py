"""Configuration every capture reads (routing rules, reps, calendars), held in memory per process and rebuilt
when its revision changes.

A snapshot is named; `watch(name, *models)` gives the name a new token in the same transaction as any save or
delete of those models, and `snapshot(name, build)` returns the held value while the stored token is the one it
was built at: one small query per transaction or web request, whatever the number of snapshots, instead of the
dozens that build them. Cache invalidation rides on Django's model signals (as Django's own Site and ContentType
caches do) rather than on calls in each action, so that no write path, a test's direct `objects.create`
included, can leave a process with stale configuration. Writes that skip signals (`QuerySet.update`) must not
touch watched fields, or call `bump` themselves.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.signals import request_finished, request_started
from django.db import connection, migrations
from django.db.models import ForeignKey, Model
from django.db.models.signals import m2m_changed, post_delete, post_save

from nurture.core.models import Revision

T = TypeVar("T")
M = TypeVar("M", bound=Model)

_held: dict[str, tuple[Any, Any]] = {}
_building = threading.Lock()
_request = threading.local()  # .tokens: None outside a web request, {} until read in it (one thread per request)


def bump(name: str) -> None:
    """Mark the named configuration changed (inside the caller's transaction)."""
    row = Revision(name=name, token=uuid.uuid4())
    Revision.objects.bulk_create([row], update_conflicts=True, update_fields=["token"], unique_fields=["name"])
    connection.nurture_revisions = None  # type: ignore[attr-defined]  # this transaction reads them again
    if getattr(_request, "tokens", None):
        _request.tokens = {}  # and so does this request


def _read() -> dict[str, Any]:
    """Raw SQL, as every capture transaction runs it and the ORM would build it for twice its cost. The
    tokens come as the backend returns them (UUID, or text on SQLite): they are only compared with each other."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, token FROM {Revision._meta.db_table}")
        return dict(cursor.fetchall())


def _tokens() -> dict[str, Any]:
    """Every revision's token: one query per web request (a page asks several snapshots, a capture too), per
    transaction outside one (a worker's job), per call elsewhere (a worker's loop).

    A request's tokens are read outside its transactions only, and a change of its own (bump) has them read again:
    a transaction then reads its own, again inside a savepoint, as rolled back, it must not leave a token only it
    had written. Before it, a request's transaction uses the tokens its request read milliseconds earlier, as if it
    had started then."""
    memo = getattr(_request, "tokens", None)
    if not connection.in_atomic_block:
        if memo is None:
            return _read()
        if not memo:
            memo.update(_read())
        return memo  # type: ignore[no-any-return]
    if memo:
        return memo  # type: ignore[no-any-return]
    where = (connection.atomic_blocks[0], tuple(connection.savepoint_ids))
    memo = getattr(connection, "nurture_revisions", None)
    if memo is not None and memo[0][0] is where[0] and where[1][: len(memo[0][1])] == memo[0][1]:
        return memo[1]  # type: ignore[no-any-return]  # read in this transaction, under savepoints still open
    tokens = _read()
    connection.nurture_revisions = (where, tokens)  # type: ignore[attr-defined]
    return tokens


def snapshot(name: str, build: Callable[[], T], *, fresh: Callable[[T], bool] = lambda value: True) -> T:
    """The value `build()` returns, rebuilt only when the revision changed or `fresh(value)` says it is too old.

    Before the first change there is no token to check against, so nothing is held."""
    current = _tokens().get(name)
    held = _held.get(name)
    if current is not None and held is not None and held[0] == current and fresh(held[1]):
        return held[1]  # type: ignore[no-any-return]
    with _building:  # one thread builds; the others of this process wait for it rather than build it again
        held = _held.get(name)
        if current is not None and held is not None and held[0] == current and fresh(held[1]):
            return held[1]  # type: ignore[no-any-return]
        value = build()
        if current is not None:
            _held[name] = (current, value)
    return value


def attach(rows: Iterable[M], fields: Sequence[str], held: Mapping[Any, Model]) -> list[M]:
    """The rows (a queryset is read), their foreign keys `fields` given the held objects they point at instead of
    joining them. One not held (made in this request, or outside what is held) is read when first asked for, as
    without this. The held objects are shared by the process's threads: read, never changed."""
    rows = list(rows)
    if not rows:
        return rows
    keys = [rows[0]._meta.get_field(name) for name in fields]  # the rows are of one model
    for row in rows:
        for field in keys:
            assert isinstance(field, ForeignKey)
            target = held.get(getattr(row, field.attname))
            if target is not None:
                field.set_cached_value(row, target)
    return rows


def first_token(name: str) -> migrations.RunPython:
    """A migration operation that gives the named revision its token, for a snapshot to be held before anything it
    comes from has changed (an install with no scoring model, no dynamic segment)."""

    def create(apps: Any, schema_editor: Any) -> None:
        historical = apps.get_model("core", "Revision")
        historical.objects.bulk_create([historical(name=name, token=uuid.uuid4())], ignore_conflicts=True)

    return migrations.RunPython(create, migrations.RunPython.noop)


def watch(name: str, *models: type[Model], ignore: Callable[[Model, dict[str, Any]], bool] | None = None) -> None:
    """Any save or delete of these models (or change through these many-to-many tables) changes the named
    revision, unless `ignore(instance, kwargs)`."""

    def changed(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        if ignore is None or not ignore(instance, kwargs):
            bump(name)

    for model in models:
        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(changed, sender=model, weak=False, dispatch_uid=f"revision:{name}:{model._meta.label}")


def _started(**kwargs: Any) -> None:
    _request.tokens = {}


def _finished(**kwargs: Any) -> None:
    _request.tokens = None


request_started.connect(_started, dispatch_uid="revisions:request_started")
request_finished.connect(_finished, dispatch_uid="revisions:request_finished")
