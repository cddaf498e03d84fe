from __future__ import annotations

from nurture.capture import actions
from nurture.capture.models import ImportJob
from nurture.core.jobs import job_handler
from nurture.core.models import Job


@job_handler("capture.run_import")
def run_import(job: Job) -> None:
    actions.run_import_now(ImportJob.objects.get(pk=job.payload["import_id"]))
