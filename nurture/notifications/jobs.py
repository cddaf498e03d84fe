"""The jobs that send a notice: one per email, one per (notice, webhook channel), retried with back-off."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from nurture.accounts.models import User
from nurture.core.jobs import job_handler
from nurture.core.models import Job
from nurture.notifications.actions import EMAIL_JOB, WEBHOOK_JOB
from nurture.notifications.channels import email, webhook
from nurture.notifications.models import Notification, WebhookChannel


def _notice(notification_id: int) -> Notification | None:
    return Notification.objects.select_related("user", "contact__owner").filter(pk=notification_id).first()


@job_handler(EMAIL_JOB)
def run_email(job: Job) -> None:
    notice = _notice(job.payload["notification_id"])
    if notice is not None:  # deleted since (with its contact or user): nothing to send
        email.send(notice)


@job_handler(WEBHOOK_JOB)
def run_webhook(job: Job) -> None:
    channel = WebhookChannel.objects.filter(pk=job.payload["channel_id"]).first()
    if channel is None:  # deleted since
        return
    if job.payload.get("test"):
        actor = User.objects.filter(pk=job.payload.get("actor_id")).first()
        with translation.override(settings.LANGUAGE_CODE):
            body = webhook.sample_payload(channel, actor.display_name if actor else "Nurture")
        webhook.send(channel, body)
        return
    notice = _notice(job.payload["notification_id"])
    if notice is None or not _wants(channel, notice):
        return
    webhook.send(channel, webhook.payload(notice))


def _wants(channel: WebhookChannel, notice: Notification) -> bool:
    """Checked again at sending: the channel may have been switched off or narrowed since the notice was queued."""
    mine = channel.user_id is None or channel.user_id == notice.user_id
    return channel.is_active and mine and channel.receives(notice.kind)
