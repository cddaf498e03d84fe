"""Notifications: every write, and what a notice says about its lead.

`notify` is called inside the caller's transaction (lead routing calls it inside the capture): the notice and
the jobs that send it by email and to the webhook channels are rows of that transaction, so they exist exactly
when the assignment does. Sending is at-least-once (see docs/notifications.md): a worker that dies between
the send and marking its job done sends again, which the receiver can spot by the notice's id.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core import clock, revisions
from nurture.core.jobs import KeyedJob, enqueue_kinds, enqueue_on_commit
from nurture.core.models import Job
from nurture.core.writes import insert
from nurture.notifications.models import Notification, WebhookChannel

log = logging.getLogger(__name__)

EMAIL_JOB = "notifications.email"
WEBHOOK_JOB = "notifications.webhook"
TITLE_LENGTH = 200
URL_LENGTH = 500
CHANNEL_FIELDS = ("name", "url", "secret", "is_active", "kinds", "user")


class NotificationError(ValueError):
    """A notice or a change that is refused; `field` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# --- notifying -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One notice to send with notify_many."""

    user: User
    kind: str
    title: str
    body: str = ""
    contact: Contact | None = None
    url: str = ""
    key: str | None = None


def notify(
    user: User,
    *,
    kind: str,
    title: str,
    body: str = "",
    contact: Contact | None = None,
    url: str = "",
    key: str | None = None,
) -> Notification:
    """Tell `user` something (see notify_many)."""
    return notify_many([Notice(user, kind, title, body, contact, url, key)])[0]


def notify_many(
    notices: Sequence[Notice], *, fresh_keys: bool = False, jobs: Sequence[KeyedJob] = ()
) -> list[Notification]:
    """The in-app notices, plus their email and webhook jobs, in the caller's transaction; returned in the order
    given. A notice with a key used before returns that first notice and queues nothing more. Without a url, a
    notice about a contact links to the contact's page.

    `fresh_keys`: every key names a row made in the caller's transaction (lead routing's new assignments), so
    none can be in use: they are not looked up, and the insert needs no savepoint. `jobs`: the caller's own keyed
    jobs (kind, key, payload, due_at), queued in the same statement as the deliveries."""
    now = clock.now()
    rows: list[Notification] = []
    for notice in notices:
        if notice.kind not in Notification.Kind.values:
            raise NotificationError("kind", f"unknown kind {notice.kind!r}")
        title = " ".join(notice.title.split())[:TITLE_LENGTH]
        if not title:
            raise NotificationError("title", "a notice needs a title")
        url = notice.url
        if not url and notice.contact is not None:
            url = reverse("contacts:detail", kwargs={"contact_id": notice.contact.pk})
        rows.append(Notification(
            user=notice.user, kind=notice.kind, title=title, body=notice.body, contact=notice.contact,
            url=url[:URL_LENGTH], created_at=now, key=notice.key,
        ))  # fmt: skip
    with transaction.atomic(savepoint=False):
        if fresh_keys:
            insert(rows)
            enqueue_kinds([*_deliveries(rows), *jobs])
            return rows
        keyed = Notification.objects.in_bulk([r.key for r in rows if r.key is not None], field_name="key")
        fresh = []
        for row in rows:
            if row.key is None or row.key not in keyed:
                fresh.append(row)
                if row.key is not None:
                    keyed[row.key] = row
        try:
            with transaction.atomic():  # a savepoint: a parallel notify with one of these keys may win the insert
                Notification.objects.bulk_create(fresh)
        except IntegrityError:
            fresh = [_create_first(row, keyed) for row in fresh]
        enqueue_kinds([*_deliveries([row for row in fresh if row.key is None or keyed[row.key] is row]), *jobs])
    return [keyed[row.key] if row.key is not None else row for row in rows]


def _create_first(row: Notification, keyed: dict[str, Notification]) -> Notification:
    """Save one notice unless its key was taken meanwhile; `keyed` then holds the one that took it."""
    row.pk = None
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        keyed[str(row.key)] = Notification.objects.get(key=row.key)
        return keyed[str(row.key)]
    return row


def _deliveries(notices: Sequence[Notification]) -> list[KeyedJob]:
    """The email and webhook jobs that send these notices."""
    if not notices:
        return []
    channels = revisions.snapshot(
        "notifications", lambda: list(WebhookChannel.objects.filter(is_active=True).order_by("pk"))
    )
    jobs: list[KeyedJob] = []
    now = clock.now()
    for notice in notices:
        user = notice.user
        if user.is_active and user.email:
            jobs.append((EMAIL_JOB, f"{EMAIL_JOB}:{notice.pk}", {"notification_id": notice.pk}, now))
        for channel in channels:
            if channel.user_id in (None, user.pk) and channel.receives(notice.kind):
                jobs.append((WEBHOOK_JOB, f"{WEBHOOK_JOB}:{notice.pk}:{channel.pk}",
                             {"notification_id": notice.pk, "channel_id": channel.pk}, now))  # fmt: skip
    return jobs


def mark_read(user: User, ids: Iterable[int] | None = None, *, all_unread: bool = False) -> int:
    """Mark some of `user`'s notices read (ids of anyone else's are ignored), or all of them; returns how many
    were unread."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if not all_unread:
        if ids is None:
            raise NotificationError("ids", "give the ids to mark read, or all")
        qs = qs.filter(pk__in=sorted(set(ids)))
    return qs.update(read_at=clock.now())


def unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --- what a notice says about its lead -----------------------------------------------------------------


def absolute_url(url: str) -> str:
    """A path inside the app made absolute with SITE_URL (NURTURE_SITE_URL); absolute URLs are kept."""
    if not url or "://" in url:
        return url
    return settings.SITE_URL.rstrip("/") + "/" + url.lstrip("/")


def lead_payload(contact: Contact) -> dict[str, Any]:
    """The lead as a chat message, an email or a webhook receiver needs it (JSON-safe)."""
    return {
        "id": contact.pk,
        "name": contact.display_name,
        "phone": contact.phone,
        # Phones are stored in E.164 (+84...), so the tel: link dials from any phone.
        "tel_url": f"tel:{contact.phone}" if contact.phone else "",
        "source": contact.source,
        "need": contact.need,
        "band": contact.band,
        "score": contact.score,
        "owner": contact.owner.display_name if contact.owner else None,
        "url": absolute_url(reverse("contacts:detail", kwargs={"contact_id": contact.pk})),
    }


def lead_title(contact: Contact) -> str:
    """The title of a new-lead notice and its email's subject: "Lead mới: Nguyễn Văn An (Facebook, nóng)".

    In the site's language, whoever's request captured the lead (a visitor's browser may ask for English).
    """
    with translation.override(settings.LANGUAGE_CODE):
        source = contact.source[:1].upper() + contact.source[1:]
        band = str(contact.get_band_display()).lower()
        details = f"{source}, {band}" if source else band
        return _("New lead: %(name)s (%(details)s)") % {"name": contact.display_name, "details": details}


# --- webhook channels ----------------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_hex(32)


def save_channel(channel: WebhookChannel | None, data: dict[str, Any], *, actor: User | None) -> WebhookChannel:
    """Create or change a webhook channel (fields already validated by ChannelForm or the caller)."""
    clean = {k: v for k, v in data.items() if k in CHANNEL_FIELDS}
    kinds = clean.get("kinds") or []
    unknown = [k for k in kinds if k not in Notification.Kind.values]
    if unknown:
        raise NotificationError("kinds", f"unknown kinds {unknown!r}")
    clean["kinds"] = sorted(set(kinds))
    if not clean.get("secret"):
        clean["secret"] = channel.secret if channel is not None else new_secret()
    with transaction.atomic():
        if channel is None:
            channel = WebhookChannel.objects.create(**clean, created_at=clock.now())
            log.info("webhook channel %s (%s) added by %s", channel.pk, channel.name, actor)
            return channel
        for name, value in clean.items():
            setattr(channel, name, value)
        channel.save(update_fields=list(clean))
    return channel


def delete_channel(channel: WebhookChannel, *, actor: User | None) -> None:
    """Delete a channel; its queued deliveries find it gone and send nothing."""
    with transaction.atomic():
        log.info("webhook channel %s (%s) deleted by %s", channel.pk, channel.name, actor)
        channel.delete()


def send_test(channel: WebhookChannel, *, actor: User | None) -> Job:
    """Queue a test notice to this channel alone. One attempt: its outcome is shown on the channel at once,
    rather than retried for an hour."""
    payload = {"channel_id": channel.pk, "test": True, "actor_id": actor.pk if actor else None}
    return enqueue_on_commit(WEBHOOK_JOB, payload, max_attempts=1)
