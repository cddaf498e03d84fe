from __future__ import annotations

from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job
from nurture.scoring import actions
from nurture.scoring.models import RescoreRun


@job_handler("scoring.rescore")
def run_rescore(job: Job) -> None:
    run = RescoreRun.objects.get(pk=job.payload["run_id"])
    try:
        actions.rescore(run, job.payload.get("rule_ids", []))
    except Exception as exc:
        run.mark_failed(exc)
        raise


@daily("scoring.decay", hour=2)
def run_decay(job: Job) -> None:
    actions.decay_all()
