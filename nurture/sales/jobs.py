"""The task timers (a reminder, the due-time alert) and the daily sweep for rotting deals: durable jobs."""

from __future__ import annotations

from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job
from nurture.sales import actions


@job_handler(actions.REMIND_JOB)
def remind(job: Job) -> None:
    actions.task_timer(actions.REMIND_JOB, job.payload["task_id"], job.payload["at"])


@job_handler(actions.DUE_JOB)
def overdue(job: Job) -> None:
    actions.task_timer(actions.DUE_JOB, job.payload["task_id"], job.payload["at"])


@daily(actions.ROTTING_JOB, hour=8)
def rotting(job: Job) -> None:
    actions.notify_rotting()
