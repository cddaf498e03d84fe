from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import receiver

from nurture.contacts.signals import contacts_changed
from nurture.core import revisions
from nurture.core.jobs import daily, enqueue_on_commit, job_handler
from nurture.core.models import Job
from nurture.segments import actions
from nurture.segments.models import Segment


@job_handler("segments.refresh")
def run_refresh(job: Job) -> None:
    segment = Segment.objects.filter(pk=job.payload["segment_id"]).first()
    if segment is not None:  # deleted since: nothing to do
        actions.refresh(segment)


@job_handler("segments.refresh_contacts")
def run_refresh_contacts(job: Job) -> None:
    actions.refresh_contacts(job.payload["contact_ids"])


REVISION = "segments"


def any_dynamic() -> bool:
    """Whether a dynamic segment exists: held per process (core.revisions), as every capture asks."""
    return revisions.snapshot(REVISION, Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exists)


@receiver(contacts_changed)
def queue_refresh(sender: object, contact_ids: Iterable[int], **kwargs: object) -> None:
    """Contacts were captured or changed: check them against the dynamic segments soon after (a durable job)."""
    if any_dynamic():
        enqueue_on_commit("segments.refresh_contacts", {"contact_ids": sorted(set(contact_ids))})


# After scoring's nightly decay (02:00), so conditions on score and band see today's values. Conditions with
# `within_days` move with time alone: this refresh records those entries and exits at most a day late.
@daily("segments.refresh_all", hour=3)
def run_refresh_all(job: Job) -> None:
    failed = [r for r in actions.refresh_all() if r.error]
    if failed:
        # The others are refreshed; a retry redoes them harmlessly (a refresh records only changes).
        raise RuntimeError("; ".join(f"segment {r.segment_id}: {r.error}" for r in failed))
