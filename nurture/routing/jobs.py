"""The SLA timers (durable jobs due at each deadline) and the hooks that route leads inside the capture."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from nurture.accounts.models import User
from nurture.contacts.signals import activity_logged, contacts_created, stage_entered
from nurture.core.jobs import job_handler
from nurture.core.models import Job
from nurture.lifecycle.models import Stage
from nurture.routing import actions


@job_handler("routing.sla")
def run_sla_step(job: Job) -> None:
    # (A timer queued before steps were chained has no "then": its later steps have jobs of their own.)
    then = [(step, datetime.fromisoformat(moment)) for step, moment in job.payload.get("then", [])]
    actions.sla_step(job.payload["assignment_id"], job.payload["step"], then)


@receiver(contacts_created)
def route_new_leads(sender: Any, contact_ids: list[int], **kwargs: Any) -> None:
    actions.assign_new(contact_ids)


@receiver(stage_entered)
def route_on_stage(sender: Any, contact_ids: list[int], stage: Stage, **kwargs: Any) -> None:
    actions.assign_on_stage(contact_ids, stage)


@receiver(activity_logged)
def stop_the_clock(sender: Any, contact_id: int, actor: User | None, at: datetime, **kwargs: Any) -> None:
    actions.responded(contact_id, actor, at)
