"""Messaging: every write. `send` is what journeys, the API and people call to message a contact.

`send` runs in the caller's transaction: the Message row and its delivery job are part of the caller's write,
so a journey step that rolls back sends nothing. Every rule that can stop a message (address, consent,
suppression, frequency cap, Zalo's 7-day window) is decided here and stored on the row with its reason; quiet
hours only move the job's due time. The `messaging.send` job (jobs.py) calls `deliver`, which sends
at-least-once with the message's key as the provider's request id (docs/messaging.md).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from nurture.contacts.actions import EventInput, record_events
from nurture.contacts.models import Consent, Contact, Event, Identity
from nurture.core import clock
from nurture.core.jobs import enqueue_many
from nurture.messaging import providers, tracking
from nurture.messaging.models import Channel, ChannelPolicy, Message, Suppression, Template
from nurture.messaging.providers.http import ProviderError
from nurture.messaging.rendering import TemplateInvalid, render_text, validate_template, variables

log = logging.getLogger(__name__)

__all__ = ["TemplateInvalid", "render", "send", "validate_template"]  # validate_template: used by journeys

SEND_JOB = "messaging.send"
SEND_BATCH = 50  # messages a delivery job carries
SOURCE = "messaging"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# Zalo lets an OA write freely only to someone who interacted with it within the last 7 days.
ZALO_WINDOW = timedelta(days=7)
ZALO_INTERACTIONS = (Event.Type.ZALO_MESSAGE_RECEIVED, Event.Type.ZALO_FOLLOWED)
# Messages that count against the frequency cap: the ones that went, or will go, out.
COUNTED = (Message.Status.QUEUED, Message.Status.SENT, Message.Status.DELIVERED)
FALLBACKS = ("skip", "sms")
TEMPLATE_FIELDS = ("name", "channel", "language", "subject", "body", "sms_body", "zns_template_id", "zns_params",
                   "is_active")  # fmt: skip


class MessagingError(ValueError):
    """A request that is refused; `field` names the part at fault, `code` says why."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.code = field, message, code


# --- rendering ----------------------------------------------------------------------------------------


def links(contact: Contact, channel: str) -> dict[str, str]:
    # One page serves both: it unsubscribes from this channel and shows every channel's choice.
    url = tracking.unsubscribe_url(contact.pk, channel)
    return {"unsubscribe_url": url, "preferences_url": url}


def render(template: Template, contact: Contact, extra: dict[str, Any] | None = None) -> tuple[str, str]:
    """(subject, body) of a template for a contact; raises TemplateInvalid (an undefined variable ...)."""
    values = variables(contact, links(contact, template.channel), extra)
    return render_text(template.subject, values), render_text(template.body, values)


# --- sending ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message of a send: to whom, its idempotency key, and variables of its own (a journey's event)."""

    contact: Contact
    key: str
    context: dict[str, Any] = field(default_factory=dict)


def send(
    contact: Contact,
    *,
    channel: str,
    key: str,
    template: Template | None = None,
    subject: str = "",
    body: str = "",
    context: dict[str, Any] | None = None,
    origin: str = "",
    fallback: str = "skip",
) -> Message:
    """Message a contact on a channel, once per `key` (see send_many)."""
    return send_many([Outgoing(contact, key, context or {})], channel=channel, template=template, subject=subject,
                     body=body, origin=origin, fallback=fallback)[0]  # fmt: skip


def send_many(
    items: Sequence[Outgoing],
    *,
    channel: str,
    template: Template | None = None,
    subject: str = "",
    body: str = "",
    origin: str = "",
    fallback: str = "skip",
) -> list[Message]:
    """Message contacts on a channel, once per key: a Message row each (queued, or refused/skipped with its
    reason) and their delivery jobs, in the caller's transaction; returns them in the order given. A key used
    before returns that message. What decides each message is read for all of them at once, so a journey step
    sending to 500 contacts costs a handful of queries, not thousands.

    Zalo goes as a free-form OA message within 7 days of the contact's last interaction with the OA, else as
    the template's ZNS (by phone), else by `fallback`: "sms" sends the template's SMS text as an SMS (with the
    SMS rules), "skip" stores the message skipped.
    """
    if channel not in Channel.values:
        raise MessagingError("channel", f"one of {', '.join(Channel.values)}")
    if fallback not in FALLBACKS:
        raise MessagingError("fallback", f"one of {', '.join(FALLBACKS)}")
    if any(not item.key or len(item.key) > 200 for item in items):
        raise MessagingError("key", "1 to 200 characters")
    if template is not None and template.channel != channel:
        raise MessagingError("template", f"a {template.channel} template cannot be sent by {channel}")
    with transaction.atomic():
        # The contacts' rows are the lock: two sends racing for the last slot under the cap take turns.
        contact_ids = sorted({item.contact.pk for item in items})
        list(Contact.objects.select_for_update().filter(pk__in=contact_ids).order_by("pk").values_list("pk"))
        messages = Message.objects.in_bulk([item.key for item in items], field_name="idempotency_key")
        now = clock.now()
        channels = {channel, Channel.SMS} if channel == Channel.ZALO and fallback == "sms" else {channel}
        facts = _facts({item.contact.pk: item.contact for item in items}, channels, now)
        fresh: list[Message] = []
        for item in items:
            if item.key in messages:
                continue
            message = Message(
                contact=item.contact, template=template, channel=channel, idempotency_key=item.key,
                origin=origin[:200], created_at=now, due_at=now,
            )  # fmt: skip
            _prepare(message, item.contact, template, subject, body, item.context, fallback, now, facts)
            if message.status == Message.Status.QUEUED:
                facts.recent[(item.contact.pk, message.channel)] += 1
            messages[item.key] = message
            fresh.append(message)
        try:
            with transaction.atomic():  # a savepoint: another contact's send may have taken one of the keys
                Message.objects.bulk_create(fresh)
        except IntegrityError:
            fresh = [_save_first(message, messages) for message in fresh]
        _queue([m for m in fresh if m.status == Message.Status.QUEUED])
    return [messages[item.key] for item in items]


def _save_first(message: Message, messages: dict[str, Message]) -> Message:
    """Save one message unless its key was taken meanwhile; `messages` then holds the one that took it."""
    message.pk = None
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        messages[message.idempotency_key] = Message.objects.get(idempotency_key=message.idempotency_key)
    return messages[message.idempotency_key]


@dataclass
class _Facts:
    """What decides the messages of one send, read for all its contacts in a few queries."""

    consents: dict[tuple[int, str], bool]
    suppressed: set[tuple[str, str]]
    recent: Counter[tuple[int, str]]  # messages counted against each contact's cap on a channel
    policies: dict[str, ChannelPolicy]
    zalo_ids: dict[int, str]
    zalo_active: set[int]


def _facts(contacts: dict[int, Contact], channels: set[str], now: datetime) -> _Facts:
    contact_ids = sorted(contacts)
    zalo_ids = _zalo_ids(contact_ids) if Channel.ZALO in channels else {}
    addresses = {a for pk, c in contacts.items() for a in (c.email, c.phone, zalo_ids.get(pk, "")) if a}
    policies = {channel: policy(channel) for channel in channels}
    recent: Counter[tuple[int, str]] = Counter()
    for channel, rule in policies.items():
        if rule.max_messages:
            counted = Message.objects.filter(
                contact_id__in=contact_ids, channel=channel, status__in=COUNTED,
                created_at__gt=now - timedelta(days=rule.per_days),
            ).values_list("contact_id").annotate(n=Count("pk"))  # fmt: skip
            recent.update({(contact_id, channel): n for contact_id, n in counted})
    return _Facts(
        consents=consents(contact_ids, channels),
        suppressed=set(
            Suppression.objects.filter(channel__in=channels, address__in=addresses).values_list("channel", "address")
        ),
        recent=recent, policies=policies, zalo_ids=zalo_ids, zalo_active=_zalo_active(zalo_ids, now),
    )  # fmt: skip


def consents(contact_ids: Collection[int], channels: Collection[str]) -> dict[tuple[int, str], bool]:
    """Each (contact, channel)'s latest decision. Without one, only email may be sent, and only when
    NURTURE_EMAIL_NEEDS_CONSENT is off (Decree 13/2023 asks for consent; some businesses rely on another basis)."""
    default = not settings.NURTURE_EMAIL_NEEDS_CONSENT
    decided = {(c, ch): ch == Channel.EMAIL and default for c in contact_ids for ch in channels}
    rows = Consent.objects.filter(contact_id__in=contact_ids, channel__in=channels).order_by("at", "id")
    decided.update({(c, ch): granted for c, ch, granted in rows.values_list("contact_id", "channel", "granted")})
    return decided


def consented(contact: Contact, channel: str) -> bool:
    """The contact's latest decision for the channel (see _consents)."""
    return consents([contact.pk], [channel])[(contact.pk, channel)]


def _zalo_active(contact_ids: Collection[int], now: datetime) -> set[int]:
    """The contacts who wrote to or followed the OA within the last 7 days."""
    if not contact_ids:
        return set()
    interactions = Event.objects.filter(
        contact_id__in=contact_ids, type__in=ZALO_INTERACTIONS, at__gte=now - ZALO_WINDOW
    )
    return set(interactions.values_list("contact_id", flat=True).distinct())


def _zalo_ids(contact_ids: list[int]) -> dict[int, str]:
    """Each contact's Zalo user id (for OA messages), the most recent one it was given."""
    rows = Identity.objects.filter(contact_id__in=contact_ids, kind=Identity.Kind.ZALO).order_by("created_at", "id")
    return dict(rows.values_list("contact_id", "value"))


def _prepare(
    message: Message,
    contact: Contact,
    template: Template | None,
    subject: str,
    body: str,
    extra: dict[str, Any],
    fallback: str,
    now: datetime,
    facts: _Facts,
) -> None:
    """Decide the route, the address and the content, or stop the message with its reason."""
    if stop := _refusal(contact, message.channel, facts):
        return _stop(message, *stop)
    if template is not None:
        subject, body = template.subject, template.body
    zns: dict[str, str] = {}
    if message.channel == Channel.ZALO:
        user_id = facts.zalo_ids.get(contact.pk, "")
        if user_id and contact.pk in facts.zalo_active:
            message.route, message.address = Message.Route.ZALO_OA, user_id
        elif template is not None and template.zns_template_id and contact.phone:
            message.route, message.address = Message.Route.ZALO_ZNS, contact.phone
            message.zns_template_id, zns, body = template.zns_template_id, template.zns_params, ""
        elif fallback == "sms":
            message.channel = Channel.SMS
            body = (template.sms_body or template.body) if template is not None else body
            if stop := _refusal(contact, Channel.SMS, facts):
                return _stop(message, *stop)
            message.route, message.address = Message.Route.SMS, contact.phone
        else:
            return _stop(message, Message.Status.SKIPPED, Message.Reason.NO_ZALO_ROUTE)
    else:
        message.route, message.address = message.channel, _addresses(contact, message.channel, facts.zalo_ids)[0]
    values = variables(contact, links(contact, message.channel), extra)
    try:
        message.subject = render_text(subject, values)[:300] if message.channel == Channel.EMAIL else ""
        message.body = render_text(body, values)
        message.zns_data = {name: render_text(str(text), values) for name, text in zns.items()}
    except TemplateInvalid as exc:
        return _stop(message, Message.Status.REFUSED, Message.Reason.TEMPLATE_ERROR, str(exc))
    message.due_at = _quiet_until(facts.policies[message.channel], now)


def _stop(message: Message, status: str, reason: str, error: str = "") -> None:
    message.status, message.reason, message.error = status, reason, error


def _addresses(contact: Contact, channel: str, zalo_ids: dict[int, str]) -> list[str]:
    """Where this channel reaches the contact; a Zalo message goes to its Zalo id (OA) or its phone (ZNS)."""
    if channel == Channel.EMAIL:
        found = [contact.email]
    elif channel == Channel.SMS:
        found = [contact.phone]
    else:
        found = [zalo_ids.get(contact.pk, ""), contact.phone]
    return [a for a in found if a]


def _refusal(contact: Contact, channel: str, facts: _Facts) -> tuple[str, str] | None:
    addresses = _addresses(contact, channel, facts.zalo_ids)
    if not addresses:
        return Message.Status.REFUSED, Message.Reason.NO_ADDRESS
    if not facts.consents[(contact.pk, channel)]:
        return Message.Status.REFUSED, Message.Reason.NO_CONSENT
    if any((channel, a) in facts.suppressed for a in addresses):
        return Message.Status.REFUSED, Message.Reason.SUPPRESSED
    cap = facts.policies[channel].max_messages
    if cap and facts.recent[(contact.pk, channel)] >= cap:
        return Message.Status.SKIPPED, Message.Reason.FREQUENCY_CAP
    return None


def policy(channel: str) -> ChannelPolicy:
    """The channel's saved policy, or (unsaved) the defaults from the settings."""
    saved = ChannelPolicy.objects.filter(channel=channel).first()
    if saved is not None:
        return saved
    cap, days = settings.NURTURE_MESSAGE_CAPS[channel]
    quiet = settings.NURTURE_QUIET_HOURS.get(channel)
    return ChannelPolicy(
        channel=channel, max_messages=cap, per_days=days,
        quiet_from=time(quiet[0]) if quiet else None, quiet_to=time(quiet[1]) if quiet else None,
    )  # fmt: skip


def quiet_until(channel: str, now: datetime) -> datetime:
    """`now`, or the end of the channel's quiet hours (Vietnam time) when `now` falls inside them."""
    return _quiet_until(policy(channel), now)


def _quiet_until(rule: ChannelPolicy, now: datetime) -> datetime:
    start, end = rule.quiet_from, rule.quiet_to
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(VIETNAM)
    moment = local.time()
    quiet = start <= moment < end if start < end else (moment >= start or moment < end)
    if not quiet:
        return now
    until = datetime.combine(local.date(), end, tzinfo=VIETNAM)
    return until if until > local else until + timedelta(days=1)


def _queue(messages: Sequence[Message]) -> None:
    """Delivery jobs for queued messages, up to SEND_BATCH messages a job (one SMTP session, one write of their
    events). Keyed by the first message (and its manual retries): a job enqueued twice still sends once."""
    by_due: dict[datetime, list[Message]] = defaultdict(list)
    for message in messages:
        by_due[message.due_at].append(message)
    jobs = []
    for due_at, group in by_due.items():
        for start in range(0, len(group), SEND_BATCH):
            batch = group[start : start + SEND_BATCH]
            key = f"{SEND_JOB}:{batch[0].pk}" + (f":{batch[0].retries}" if batch[0].retries else "")
            jobs.append((key, {"message_ids": [m.pk for m in batch]}, due_at))
    enqueue_many(SEND_JOB, jobs)


# --- delivering (the job) -----------------------------------------------------------------------------


def deliver(message_ids: Sequence[int], *, last_attempt: bool) -> None:
    """Send queued messages through their providers, all of them even when one fails. A provider error is
    stored on its message and raised at the end, so the job retries (the messages sent are skipped then);
    after the last attempt the message is failed with the reason."""
    queued = Message.objects.select_related("contact", "template").filter(pk__in=message_ids)
    messages = list(queued.filter(status=Message.Status.QUEUED).order_by("pk"))
    if not messages:
        return  # sent by an earlier run of this job, cancelled by an unsubscribe, or erased with its contact
    # Checked again: the contact may have withdrawn consent or bounced while the message waited.
    granted = consents({m.contact_id for m in messages}, {m.channel for m in messages})
    suppressed = set(
        Suppression.objects.filter(
            channel__in={m.channel for m in messages}, address__in={m.address for m in messages}
        ).values_list("channel", "address")
    )
    # And an OA message held by quiet hours may have outlived the contact's 7-day window.
    window_open = _zalo_active({m.contact_id for m in messages if m.route == Message.Route.ZALO_OA}, clock.now())
    sent: list[tuple[Message, str]] = []
    failed: list[tuple[Message, str]] = []
    for message in messages:
        if not granted[(message.contact_id, message.channel)]:
            _close(message, Message.Reason.NO_CONSENT)
        elif (message.channel, message.address) in suppressed:
            _close(message, Message.Reason.SUPPRESSED)
        elif message.route == Message.Route.ZALO_OA and message.contact_id not in window_open:
            _close(message, Message.Reason.NO_ZALO_ROUTE)
        else:
            try:
                sent.append((message, providers.send(message)))
            except Exception as exc:  # noqa: BLE001 - whatever a provider raises is kept on the message, then retried
                failed.append((message, f"{type(exc).__name__}: {exc}"[:2000]))
    now = clock.now()
    with transaction.atomic():
        # Only those still queued: an unsubscribe may have refused one while it was being sent.
        still = Message.objects.select_for_update().filter(pk__in=[m.pk for m, _ in sent], status=Message.Status.QUEUED)
        queued_ids = set(still.values_list("pk", flat=True))
        done = []
        for message, provider_id in sent:
            if message.pk in queued_ids:
                message.status, message.sent_at, message.provider_id = Message.Status.SENT, now, provider_id[:200]
                message.reason = message.error = ""
                done.append(message)
        Message.objects.filter(pk__in=[m.pk for m in done]).update(status=Message.Status.SENT, sent_at=now, reason="",
                                                                   error="")  # fmt: skip
        Message.objects.bulk_update(done, ["provider_id"])  # one CASE over one column: far cheaper to build
        _events(done, Event.Type.MESSAGE_SENT)
    for message, error in failed:
        _attempt_failed(message, error, last=last_attempt)
    if failed:
        raise ProviderError(f"{len(failed)} of {len(messages)} messages failed, the first with: {failed[0][1]}")


def _close(message: Message, reason: str) -> None:
    Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
        status=Message.Status.REFUSED, reason=reason
    )


def _attempt_failed(message: Message, error: str, *, last: bool) -> None:
    with transaction.atomic():
        if not last:
            Message.objects.filter(pk=message.pk).update(error=error)
            return
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, reason=Message.Reason.PROVIDER_ERROR, error=error
        )
        _events([message], Event.Type.MESSAGE_FAILED, error=error)


def _events(messages: Sequence[Message], type: str, **data: Any) -> None:
    if not messages:
        return
    record_events([EventInput(
        contact_id=m.contact_id, type=type, source=SOURCE,
        data={"message_id": m.pk, "channel": m.channel, "route": m.route, "origin": m.origin,
              "template_id": m.template_id, **data},
    ) for m in messages])  # fmt: skip


def retry(message: Message) -> Message:
    """Queue a failed message again, now (the Retry button)."""
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.status != Message.Status.FAILED:
            raise MessagingError("status", "only a failed message can be retried", "not_failed")
        locked.status, locked.reason, locked.due_at = Message.Status.QUEUED, "", clock.now()
        locked.retries += 1
        locked.save(update_fields=["status", "reason", "retries", "due_at"])
        _queue([locked])
    return locked


# --- what comes back: opens, clicks, receipts, bounces, unsubscribes, Zalo interactions --------------------


def record_open(message_id: int) -> bool:
    """The first open of an email goes on the timeline; later ones (and image proxies) are not counted."""
    with transaction.atomic():
        first = Message.objects.filter(pk=message_id, opened_at__isnull=True).update(opened_at=clock.now())
        message = Message.objects.filter(pk=message_id).first() if first else None
        if message is not None:
            _events([message], Event.Type.EMAIL_OPENED)
    return bool(first)


def record_click(message_id: int, url: str) -> bool:
    with transaction.atomic():
        message = Message.objects.filter(pk=message_id).first()
        if message is None:
            return False
        Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(clicked_at=clock.now())
        _events([message], Event.Type.EMAIL_CLICKED, url=url)
    return True


def mark_delivered(message: Message) -> bool:
    """A provider's receipt. Only a sent message becomes delivered; receipts that come again change nothing."""
    with transaction.atomic():
        done = Message.objects.filter(pk=message.pk, status=Message.Status.SENT).update(
            status=Message.Status.DELIVERED, delivered_at=clock.now()
        )
        if done:
            _events([message], Event.Type.MESSAGE_DELIVERED)
    return bool(done)


def mark_rejected(message: Message, detail: str) -> bool:
    """The provider accepted the message, then could not deliver it (refused by the network, blocked)."""
    with transaction.atomic():
        done = Message.objects.filter(pk=message.pk, status__in=(Message.Status.SENT, Message.Status.DELIVERED)).update(
            status=Message.Status.FAILED, reason=Message.Reason.REJECTED, error=detail[:2000]
        )
        if done:
            _events([message], Event.Type.MESSAGE_FAILED, error=detail[:500])
    return bool(done)


def record_bounce(address: str, *, complaint: bool, detail: str = "", message: Message | None = None) -> Suppression:
    """A hard bounce or a spam complaint: the address is suppressed for email, and the contact's timeline says so."""
    address = address.strip().lower()
    reason = Suppression.Reason.COMPLAINT if complaint else Suppression.Reason.BOUNCE
    with transaction.atomic():
        suppression, _ = Suppression.objects.get_or_create(
            channel=Channel.EMAIL, address=address,
            defaults={"reason": reason, "detail": detail[:500], "created_at": clock.now()},
        )  # fmt: skip
        if message is not None and not complaint:
            mark_rejected(message, detail or "bounced")
        contact_ids = (
            [message.contact_id] if message is not None
            else Contact.objects.filter(email=address, merged_into__isnull=True).values_list("pk", flat=True)
        )  # fmt: skip
        kind = Event.Type.EMAIL_COMPLAINT if complaint else Event.Type.EMAIL_BOUNCED
        data = {"address": address, "detail": detail[:500], "message_id": message.pk if message else None}
        record_events([EventInput(contact_id=c, type=kind, source=SOURCE, data=data) for c in contact_ids])
    return suppression


def channel_state(contact: Contact) -> dict[str, bool]:
    """Per channel: may this contact be messaged there (consent given and no address suppressed)?"""
    zalo_ids = _zalo_ids([contact.pk])
    addresses = {ch: _addresses(contact, ch, zalo_ids) for ch in Channel.values}
    suppressed = set(
        Suppression.objects.filter(address__in=[a for found in addresses.values() for a in found]).values_list(
            "channel", "address"
        )
    )
    granted = consents([contact.pk], Channel.values)
    return {
        ch: granted[(contact.pk, ch)] and not any((ch, a) in suppressed for a in addresses[ch]) for ch in Channel.values
    }


def set_preferences(contact: Contact, wanted: dict[str, bool], *, source: str) -> list[str]:
    """Unsubscribe from, or subscribe again to, channels: a Consent row each (Decree 13: source and time), the
    contact's addresses suppressed or freed, pending messages on a dropped channel cancelled. Returns the
    channels changed."""
    now = clock.now()
    changed: list[str] = []
    with transaction.atomic():
        current = channel_state(contact)
        for channel, want in wanted.items():
            if channel not in Channel.values or current[channel] == want:
                continue
            changed.append(channel)
            Consent.objects.create(contact=contact, channel=channel, granted=want, source=source, at=now)
            addresses = _addresses(contact, channel, _zalo_ids([contact.pk]))
            if want:
                # Bounces and complaints stay: a person can take back an unsubscribe, not a dead mailbox.
                Suppression.objects.filter(
                    channel=channel, address__in=addresses, reason=Suppression.Reason.UNSUBSCRIBE
                ).delete()
                continue
            Suppression.objects.bulk_create(
                [Suppression(channel=channel, address=a, reason=Suppression.Reason.UNSUBSCRIBE, detail=source,
                             created_at=now) for a in addresses],
                ignore_conflicts=True,
            )  # fmt: skip
            Message.objects.filter(contact=contact, channel=channel, status=Message.Status.QUEUED).update(
                status=Message.Status.REFUSED, reason=Message.Reason.NO_CONSENT
            )
        events = [
            EventInput(contact_id=contact.pk, type=Event.Type.UNSUBSCRIBED, source=SOURCE,
                       data={"channel": ch, "source": source})
            for ch in changed if not wanted[ch]
        ]  # fmt: skip
        if events:
            record_events(events)
    return changed


def record_zalo_receipt(msg_id: str) -> bool:
    """Zalo's user_received_message: the ZNS or OA message with this id reached the phone."""
    message = Message.objects.filter(provider_id=msg_id, channel=Channel.ZALO).first() if msg_id else None
    return message is not None and mark_delivered(message)


def record_zalo_interaction(user_id: str, *, followed: bool, data: dict[str, Any]) -> bool:
    """A known contact wrote to, or followed, the OA: the 7-day window opens again. A text that comes within
    7 days of a Zalo message to them is also a reply. Unknown Zalo users are left to capture."""
    contact_id = Identity.objects.filter(kind=Identity.Kind.ZALO, value=user_id).values_list("contact_id", flat=True)
    contact = Contact.objects.filter(pk__in=contact_id).first()
    if contact is None:
        return False
    now = clock.now()
    kind = Event.Type.ZALO_FOLLOWED if followed else Event.Type.ZALO_MESSAGE_RECEIVED
    items = [EventInput(contact_id=contact.pk, type=kind, source="zalo", data=data)]
    replied_to = (
        Message.objects.filter(
            Q(sent_at__gte=now - ZALO_WINDOW), contact=contact, channel=Channel.ZALO,
            status__in=(Message.Status.SENT, Message.Status.DELIVERED),
        ).order_by("-sent_at").first()
        if not followed else None
    )  # fmt: skip
    if replied_to is not None:
        items.append(EventInput(
            contact_id=contact.pk, type=Event.Type.MESSAGE_REPLIED, source="zalo",
            data={"message_id": replied_to.pk, "channel": Channel.ZALO, "origin": replied_to.origin},
        ))  # fmt: skip
    record_events(items)
    return True


# --- templates and policies ---------------------------------------------------------------------------


def save_template(template: Template | None, data: dict[str, Any]) -> Template:
    """Create or change a template; refused (MessagingError naming the field) with an unknown variable."""
    clean = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
    merged = {f: clean.get(f, getattr(template, f) if template else "") for f in TEMPLATE_FIELDS}
    if merged["channel"] not in Channel.values:
        raise MessagingError("channel", f"one of {', '.join(Channel.values)}")
    params = merged["zns_params"] or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise MessagingError("zns_params", "an object of parameter names to texts")
    clean["zns_params"] = params
    required = {"email": ("subject", "body"), "sms": ("body",), "zalo": ()}[merged["channel"]]
    for name in required:
        if not str(merged[name]).strip():
            raise MessagingError(name, "required for this channel", "required")
    if merged["channel"] == Channel.ZALO and not (str(merged["body"]).strip() or merged["zns_template_id"]):
        raise MessagingError("body", "a Zalo template needs an OA text or a ZNS template id", "required")
    texts = {"subject": merged["subject"], "body": merged["body"], "sms_body": merged["sms_body"]}
    texts.update({f"zns_params.{k}": v for k, v in params.items()})
    for name, text in texts.items():
        try:
            unknown = validate_template([str(text or "")])
        except TemplateInvalid as exc:
            raise MessagingError(name, str(exc), "syntax") from None
        if unknown:
            raise MessagingError(name, f"unknown variable: {', '.join(unknown)}", "unknown_variable")
    now = clock.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                if template is None:
                    return Template.objects.create(**clean, created_at=now, updated_at=now)
                for name, value in clean.items():
                    setattr(template, name, value)
                template.updated_at = now
                template.save()
        except IntegrityError:
            raise MessagingError("name", "a template with this name, channel and language exists", "taken") from None
    return template


def save_policy(channel: str, data: dict[str, Any]) -> ChannelPolicy:
    if channel not in Channel.values:
        raise MessagingError("channel", f"one of {', '.join(Channel.values)}")
    if (data.get("quiet_from") is None) != (data.get("quiet_to") is None):
        raise MessagingError("quiet_to", "give both ends of the quiet hours, or neither")
    fields = {k: data.get(k) for k in ("max_messages", "per_days", "quiet_from", "quiet_to")}
    if not fields["per_days"] or fields["per_days"] < 1:
        raise MessagingError("per_days", "at least 1 day")
    saved, _ = ChannelPolicy.objects.update_or_create(channel=channel, defaults=fields)
    return saved
