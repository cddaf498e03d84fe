"""The one clock every action reads, so tests move time instead of waiting for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.utils import timezone

_offset: ContextVar[timedelta] = ContextVar("clock_offset", default=timedelta(0))


def now() -> datetime:
    return timezone.now() + _offset.get()


@contextmanager
def ahead(delta: timedelta) -> Iterator[None]:
    """Read the clock `delta` later in this context: a journey's test mode walks a contact through its waits
    inside a transaction it rolls back."""
    token = _offset.set(_offset.get() + delta)
    try:
        yield
    finally:
        _offset.reset(token)
