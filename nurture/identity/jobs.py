from __future__ import annotations

from nurture.core.jobs import job_handler
from nurture.core.models import Job
from nurture.identity import batch
from nurture.identity.models import DedupeRun


@job_handler("identity.dedupe")
def run_dedupe(job: Job) -> None:
    dedupe = DedupeRun.objects.get(pk=job.payload["run_id"])
    try:
        batch.run(dedupe)
    except Exception as exc:
        dedupe.mark_failed(exc)
        raise
