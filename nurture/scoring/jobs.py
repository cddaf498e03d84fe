from __future__ import annotations

import logging

from nurture.core import clock
from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job
from nurture.lifecycle.actions import apply_rules
from nurture.scoring import actions, prediction
from nurture.scoring.models import RescoreRun, TrainingRun

log = logging.getLogger(__name__)


@job_handler("scoring.rescore")
def run_rescore(job: Job) -> None:
    run = RescoreRun.objects.get(pk=job.payload["run_id"])
    try:
        actions.rescore(run, job.payload.get("rule_ids", []))
    except Exception as exc:
        run.mark_failed(exc)
        raise
    apply_rules()  # new scores may meet a transition rule (engagement ≥ 50 → MQL)


@job_handler(prediction.PRIORS_JOB)
def refresh_best_time_priors(job: Job) -> None:
    prediction.refresh_priors()


@daily("scoring.decay", hour=2)
def run_decay(job: Job) -> None:
    actions.decay_all()


@job_handler("scoring.train")
def run_training(job: Job) -> None:
    """A training asked for on the models page or through the API (too little history fails the run only)."""
    prediction.run_training(TrainingRun.objects.get(pk=job.payload["run_id"]))


@daily("scoring.retrain", hour=3)
def run_retrain(job: Job) -> None:
    """Retrain on yesterday's outcomes; with too little history the previous model stays active."""
    run = TrainingRun.objects.create(reason="daily retraining", created_at=clock.now())
    run = prediction.run_training(run)
    if run.status == TrainingRun.Status.FAILED:
        log.info("daily retraining skipped, the active model stays: %s", run.error)
