from __future__ import annotations

from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job
from nurture.lifecycle import actions


@job_handler("lifecycle.apply_rules")
def run_rules(job: Job) -> None:
    actions.apply_rules()


@daily("lifecycle.daily_rules", hour=3)
def run_daily_rules(job: Job) -> None:
    # Conditions on time (inactive for 90 days, within the last 30 days) change without any event.
    actions.apply_rules()
