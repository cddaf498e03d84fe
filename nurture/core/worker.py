"""The worker's steps. Each returns whether it found work; tests call them directly."""

from __future__ import annotations

from django.conf import settings

from nurture.capture.tracking import process_staged_events
from nurture.core.jobs import enqueue_daily_jobs, process_due_jobs
from nurture.journeys.engine import process_due_enrolments

STEPS = [enqueue_daily_jobs, process_due_jobs, process_due_enrolments, process_staged_events]


def step() -> bool:
    found = False
    for process in STEPS:
        found = process() or found
    return found


def poll_seconds() -> float:
    return float(settings.NURTURE_WORKER_POLL_SECONDS)
