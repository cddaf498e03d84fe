from __future__ import annotations

from nurture.capture import actions
from nurture.capture.models import ImportJob, InboundEvent
from nurture.capture.sources import facebook
from nurture.capture.sources.zalo import tokens
from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job


@job_handler("capture.run_import")
def run_import(job: Job) -> None:
    actions.run_import_now(ImportJob.objects.get(pk=job.payload["import_id"]))


@job_handler("capture.process_inbound")
def process_inbound(job: Job) -> None:
    """Fetch and capture a kept event (Facebook's lead by its leadgen id); a provider error retries with
    back-off, and the last attempt leaves the event in the dead-letter list."""
    event = InboundEvent.objects.select_related("connection").get(pk=job.payload["event_id"])
    if event.status == InboundEvent.Status.RECEIVED:  # a replay by an admin got there first
        actions.process_inbound(event, final=job.attempts + 1 >= job.max_attempts)


@job_handler("capture.facebook_backfill")
def facebook_backfill(job: Job) -> None:
    facebook.backfill_page(job.payload)


@job_handler(tokens.REFRESH_JOB)
def zalo_refresh(job: Job) -> None:
    tokens.refresh(job.payload["connection_id"])


@daily("capture.zalo_tokens", hour=4)
def zalo_tokens(job: Job) -> None:
    tokens.refresh_due()
