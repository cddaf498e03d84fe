"""Durable jobs: rows written in the caller's transaction, claimed in batches by workers.

The job row is inserted inside the write that starts it, so it becomes visible to workers exactly
when that write commits and is gone if it rolls back (Zulip's queue_event_on_commit, done as an
outbox row so a crash between commit and enqueue cannot lose it).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from nurture.core import clock
from nurture.core.models import Job
from nurture.core.writes import insert

log = logging.getLogger(__name__)

Handler = Callable[[Job], None]
_HANDLERS: dict[str, Handler] = {}
_DAILY: dict[str, int] = {}  # job kind -> local hour it runs at
_SCHEDULED: dict[str, date] = {}  # job kind -> the last day this process made sure it is queued

LEASE = timedelta(minutes=10)
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[kind] = func
        return func

    return register


def daily(kind: str, hour: int) -> Callable[[Handler], Handler]:
    """Register a handler that runs once a day at `hour` local time (e.g. decay, retraining)."""

    def register(func: Handler) -> Handler:
        _DAILY[kind] = hour
        return job_handler(kind)(func)

    return register


def enqueue_daily_jobs() -> bool:
    """Queue today's and tomorrow's run of every daily job (idempotent by key; a worker step)."""
    today = timezone.localdate(clock.now())
    for kind, hour in _DAILY.items():
        if _SCHEDULED.get(kind) == today:
            continue
        for day in (today, today + timedelta(days=1)):
            moment = timezone.make_aware(datetime.combine(day, time(hour)))
            enqueue_on_commit(kind, {"day": day.isoformat()}, key=f"{kind}:{day.isoformat()}", due_at=moment)
        _SCHEDULED[kind] = today
    return False


def enqueue_on_commit(
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    due_at: datetime | None = None,
    max_attempts: int = 5,
) -> Job:
    """Queue a job; with `key`, a second enqueue of the same work returns the first job."""
    now = clock.now()
    fields = {
        "kind": kind,
        "payload": payload,
        "due_at": due_at or now,
        "created_at": now,
        "max_attempts": max_attempts,
    }
    if key is None:
        return Job.objects.create(**fields)
    try:
        with transaction.atomic():
            return Job.objects.create(idempotency_key=key, **fields)
    except IntegrityError:
        return Job.objects.get(idempotency_key=key)


# (kind, idempotency key, payload, due_at): a job for enqueue_kinds.
KeyedJob = tuple[str, str, dict[str, Any], datetime]


def enqueue_many(kind: str, jobs: Iterable[tuple[str, dict[str, Any], datetime]]) -> None:
    """Queue several keyed jobs of one kind, (key, payload, due_at) each, in one statement; a key already
    queued keeps its first job."""
    enqueue_kinds((kind, key, payload, due) for key, payload, due in jobs)


def enqueue_kinds(jobs: Iterable[KeyedJob]) -> None:
    """enqueue_many for jobs of several kinds, (kind, key, payload, due_at) each: still one statement."""
    now = clock.now()
    rows = [
        Job(kind=kind, payload=payload, idempotency_key=key, due_at=due, created_at=now)
        for kind, key, payload, due in jobs
    ]
    insert(rows, ignore_conflicts=True)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_due_jobs(*, limit: int = 20, kinds: list[str] | None = None) -> list[Job]:
    """Claim up to `limit` due jobs for this process; expired leases (a killed worker) are re-claimed."""
    now = clock.now()
    with transaction.atomic():
        due = Q(status=Job.Status.QUEUED, due_at__lte=now) | Q(status=Job.Status.RUNNING, locked_until__lt=now)
        qs = Job.objects.filter(due)
        if kinds:
            qs = qs.filter(kind__in=kinds)
        jobs = list(qs.order_by("due_at").select_for_update(skip_locked=True)[:limit])
        if not jobs:
            return []
        me = worker_id()
        Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
            status=Job.Status.RUNNING, locked_by=me, locked_until=now + LEASE
        )
        for job in jobs:
            job.status, job.locked_by, job.locked_until = Job.Status.RUNNING, me, now + LEASE
    return jobs


def run_job(job: Job) -> bool:
    """Run one claimed job; a failure is counted and pushed back, never left to wedge the worker."""
    handler = _HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        handler(job)
    except Exception as exc:  # noqa: BLE001 - any handler error must be recorded, not crash the loop
        log.exception("job %s failed", job)
        attempts = job.attempts + 1
        delay = min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS)
        failed = attempts >= job.max_attempts
        Job.objects.filter(pk=job.pk).update(
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            status=Job.Status.FAILED if failed else Job.Status.QUEUED,
            due_at=clock.now() + timedelta(seconds=delay),
            locked_by="",
            locked_until=None,
            finished_at=clock.now() if failed else None,
        )
        return False
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, attempts=job.attempts + 1, finished_at=clock.now(), locked_by="", locked_until=None
    )
    return True


def process_due_jobs(*, limit: int = 20) -> bool:
    """One worker step: claim and run a batch. Returns whether there was work."""
    jobs = claim_due_jobs(limit=limit)
    for job in jobs:
        run_job(job)
    return bool(jobs)
