"""The job that delivers one message, retried with back-off by core.jobs (5 attempts over about 8 minutes)."""

from __future__ import annotations

from nurture.core.jobs import job_handler
from nurture.core.models import Job
from nurture.messaging.actions import SEND_JOB, deliver


@job_handler(SEND_JOB)
def run_send(job: Job) -> None:
    # This run is the last when it fails: core.jobs then marks the job failed, and deliver() the message.
    deliver(job.payload["message_id"], last_attempt=job.attempts + 1 >= job.max_attempts)
