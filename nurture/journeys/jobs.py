"""The hooks that tie journeys to contact changes, the webhook step's job and the daily date trigger."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence, Set
from datetime import date
from typing import Any

from django.dispatch import receiver

from nurture.contacts.models import Contact, Event
from nurture.contacts.signals import contacts_changed, contacts_merged, events_recorded, stage_entered
from nurture.core import clock
from nurture.core.jobs import daily, job_handler
from nurture.core.models import Job
from nurture.identity.models import Merge
from nurture.journeys import actions
from nurture.journeys.engine import WEBHOOK_JOB
from nurture.journeys.models import Journey
from nurture.lifecycle.models import Stage
from nurture.notifications.actions import lead_payload

TIMEOUT_SECONDS = 10
USER_AGENT = "Nurture-Journey/1"


class WebhookFailed(RuntimeError):
    """The endpoint did not answer 2xx: the job is retried with back-off (core.jobs)."""


@receiver(events_recorded)
def events_hook(sender: Any, events: Sequence[Event], new_contact_ids: Set[int] = frozenset(), **kwargs: Any) -> None:
    actions.on_events(events, new_contact_ids=new_contact_ids)


@receiver(contacts_changed)
def changed_hook(sender: Any, contact_ids: Sequence[int], **kwargs: Any) -> None:
    actions.on_contacts_changed(contact_ids)


@receiver(stage_entered)
def stage_hook(sender: Any, contact_ids: Sequence[int], stage: Stage, **kwargs: Any) -> None:
    actions.on_stage_entered(contact_ids, stage)


@receiver(contacts_merged)
def merged_hook(sender: Any, merges: Sequence[Merge], **kwargs: Any) -> None:
    actions.on_merged(merges)


# 08:00: birthday and repurchase messages arrive in the morning, not at midnight.
@daily("journeys.date_triggers", hour=8)
def run_date_triggers(job: Job) -> None:
    actions.run_date_triggers(date.fromisoformat(job.payload["day"]))


@job_handler(WEBHOOK_JOB)
def post_webhook(job: Job) -> None:
    """POST the step's JSON. At-least-once: a worker killed after the POST posts again, with the same
    Idempotency-Key header for the receiver to spot it. Redirects are not followed."""
    payload = job.payload
    contact = Contact.objects.select_related("owner").filter(pk=payload["contact_id"]).first()
    journey = Journey.objects.filter(pk=payload["journey_id"]).first()
    if contact is None or journey is None:
        return  # erased or deleted since: nothing to tell
    body = {
        "journey": {"id": journey.pk, "name": journey.name}, "step": payload["step"],
        "enrolment_id": payload["enrolment_id"], "contact": lead_payload(contact), "sent_at": clock.now().isoformat(),
    }  # fmt: skip
    request = urllib.request.Request(
        payload["url"], data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                 "Idempotency-Key": payload["key"]},
    )  # fmt: skip
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise WebhookFailed(f"HTTP {exc.code}") from None
    if not 200 <= status < 300:
        raise WebhookFailed(f"HTTP {status}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirects())
