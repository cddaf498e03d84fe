"""The job that delivers a batch of messages, retried with back-off by core.jobs (5 attempts over about 8 minutes)."""

from __future__ import annotations

from nurture.core.jobs import job_handler
from nurture.core.models import Job
from nurture.messaging.actions import SEND_JOB, deliver


@job_handler(SEND_JOB)
def run_send(job: Job) -> None:
    # This run is the last when it fails: core.jobs then marks the job failed, and deliver() the message.
    # Jobs queued before messages were batched carry one "message_id".
    ids = job.payload["message_ids"] if "message_ids" in job.payload else [job.payload["message_id"]]
    deliver(ids, last_attempt=job.attempts + 1 >= job.max_attempts)
