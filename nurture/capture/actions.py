"""Capture actions: lead forms (builder, submissions), spreadsheet imports, channel connections (webhooks from
Facebook, Zalo, Google Ads, chatbots and call centres, with their dead-letter list), tracked websites, campaigns
and costs.

Website tracking's intake and stitching live in capture/tracking.py, attribution's reading in attribution.py."""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.capture import importing, tracking
from nurture.capture.models import (
    Campaign,
    Channel,
    Connection,
    CostEntry,
    ImportJob,
    InboundEvent,
    LeadForm,
    TrackedSite,
)  # fmt: skip
from nurture.capture.tracking import capture_and_stitch
from nurture.contacts.actions import CaptureResult
from nurture.contacts.leads import InvalidLead, LeadInput, parse_date, parse_lead
from nurture.contacts.models import Event
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.core.money import parse_amount
from nurture.lifecycle.models import StageChange


def save_lead_form(
    lead_form: LeadForm,
    *,
    fields: list[dict[str, Any]],
    consent_texts: dict[str, str],
    tags: list[str],
    user: User | None,
) -> LeadForm:
    """Save the builder's settings; the model's own fields were set by the ModelForm."""
    now = clock.now()
    with transaction.atomic():
        lead_form.fields = fields
        lead_form.consent_texts = consent_texts
        lead_form.tags = tags
        lead_form.updated_at = now
        if lead_form.pk is None:
            lead_form.created_at = now
            lead_form.created_by = user
        lead_form.save()
    return lead_form


def capture_lead(lead: LeadInput, **options: Any) -> CaptureResult:
    """One lead from a form, a connector or the API: captured, and given its website visitor's history when it
    carries the visitor's anonymous id (see capture_and_stitch)."""
    return capture_and_stitch([lead], **options)[0]


def submit_lead_form(lead_form: LeadForm, data: dict[str, Any], *, ip: str = "") -> CaptureResult:
    """Capture a visitor's submission; raises InvalidLead naming the bad fields, writing nothing."""
    lead = parse_lead(data)
    lead.consent_texts = dict(lead_form.consent_texts or {})
    lead.event_data = {
        "form": lead_form.slug,
        "form_id": lead_form.pk,
        "fields": {k: v for k, v in data.items() if k not in ("consents", "tags") and v not in (None, "", {})},
        "ip": ip,
    }
    return capture_lead(
        lead,
        event_type=Event.Type.FORM_SUBMITTED,
        cause=StageChange.Cause.CAPTURE,
        source_label=f"form:{lead_form.slug}",
    )


def create_import(
    *, upload: IO[bytes], original_name: str, created_by: User | None, source: str = "import"
) -> ImportJob:
    """Store an uploaded spreadsheet and propose a column mapping; nothing is imported yet."""
    suffix = Path(original_name).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise importing.UnreadableFile("only .csv and .xlsx files can be imported")
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}{suffix}"
    with stored.open("wb") as handle:
        shutil.copyfileobj(upload, handle)
    try:
        headers = importing.read_headers(stored)
        total = importing.count_rows(stored)
    except (importing.UnreadableFile, csv.Error, UnicodeError) as exc:
        stored.unlink(missing_ok=True)
        raise importing.UnreadableFile(str(exc)) from exc
    return ImportJob.objects.create(
        file_path=str(stored),
        original_name=Path(original_name).name[:255],
        mapping=importing.auto_map(headers),
        total_rows=total,
        source=source,
        created_by=created_by,
        created_at=clock.now(),
    )


def start_import(job: ImportJob, *, mapping: dict[str, str], tags: list[str] | None = None) -> ImportJob:
    """Fix the mapping and queue the import for the worker."""
    bad = [header for header, target in mapping.items() if not importing.valid_target(target)]
    if bad:
        raise ValueError(f"unknown target field for columns: {', '.join(bad)}")
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.DRAFT:
            raise ValueError("this import has already started")
        locked.mapping = mapping
        locked.tags = tags or []
        locked.status = ImportJob.Status.QUEUED
        locked.save(update_fields=["mapping", "tags", "status"])
        enqueue_on_commit("capture.run_import", {"import_id": locked.pk}, key=f"import:{locked.pk}", max_attempts=1)
    return locked


def run_import_now(job: ImportJob) -> ImportJob:
    """Run a (queued or draft) import in this process: the CLI path, and the worker's job."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=clock.now())
    job.refresh_from_db()
    try:
        importing.run_import(job)
    except Exception as exc:
        importing.finish(job, error=f"{type(exc).__name__}: {exc}")
        raise
    importing.finish(job)
    return job


# --- channel connections ------------------------------------------------------------------------------


class Unmappable(ValueError):
    """A provider event that cannot become a lead (no phone or email, a bad value, not an object): it goes to
    the dead-letter list with this reason, to be fixed and replayed."""


class InvalidConnection(ValueError):
    """A refused connection setting; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def save_connection(connection: Connection, *, mapping: dict[str, str] | None = None) -> Connection:
    """Save a connection's settings (its model fields were set by the form) and, when given, its mapping."""
    if mapping is not None:
        bad = [name for name, target in mapping.items() if not importing.valid_target(target)]
        if bad:
            raise InvalidConnection("mapping", f"unknown target field for: {', '.join(bad)}")
        connection.mapping = {name: target for name, target in mapping.items() if name}
    now = clock.now()
    with transaction.atomic():
        connection.updated_at = now
        if connection.pk is None:
            connection.created_at = now
        connection.save()
        if connection.channel == Connection.Channel.ZALO:
            from nurture.capture.sources.zalo import tokens

            tokens.schedule_refresh(connection)
    return connection


def flatten(payload: Any, prefix: str = "") -> dict[str, Any]:
    """A nested JSON object as "a.b.c" -> value; lists of plain values are joined, others indexed."""
    flat: dict[str, Any] = {}
    if isinstance(payload, dict):
        for key, value in payload.items():
            flat.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(payload, list) and all(not isinstance(v, dict | list) for v in payload):
        flat[prefix[:-1]] = ", ".join(str(v) for v in payload if v not in (None, ""))
    elif isinstance(payload, list):
        for i, value in enumerate(payload):
            flat.update(flatten(value, f"{prefix}{i}."))
    elif prefix:
        flat[prefix[:-1]] = payload
    return flat


def lead_from_fields(connection: Connection, fields: dict[str, Any], defaults: dict[str, Any]) -> LeadInput:
    """Map a provider's fields to a lead: the connection's mapping first, then the import's header synonyms
    (Vietnamese and English); unknown fields are kept as custom fields. `defaults` fill what is still empty."""
    mapping = {**importing.auto_map(list(fields)), **connection.mapping}
    data = importing.row_to_lead(fields, mapping)
    for name, value in defaults.items():
        if value not in (None, "") and not data.get(name):
            data[name] = value
    try:
        return parse_lead(data)
    except InvalidLead as exc:
        raise Unmappable(str(exc)) from exc


def record_inbound(
    connection: Connection, *, key: str, payload: dict[str, Any], kind: str = "", sender: str = ""
) -> InboundEvent | None:
    """Keep a provider event; None when this connection already has it (the provider retried)."""
    now = clock.now()
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                connection=connection, key=key[:200], kind=kind[:60], sender=sender[:100], payload=payload,
                received_at=now,
            )  # fmt: skip
    except IntegrityError:
        return None
    Connection.objects.filter(pk=connection.pk).update(last_event_at=now)
    return event


def receive_now(
    connection: Connection, *, key: str, payload: dict[str, Any], kind: str = "", sender: str = ""
) -> InboundEvent | None:
    """A webhook whose payload carries the lead: keep it and capture it in one transaction, so a crash loses
    nothing (the provider retries) and a replay is accepted once. A dead event is kept, with its reason."""
    with transaction.atomic():
        event = record_inbound(connection, key=key, payload=payload, kind=kind, sender=sender)
        if event is not None:
            process_inbound(event)
    return event


def receive_later(connection: Connection, *, key: str, payload: dict[str, Any], kind: str = "") -> InboundEvent | None:
    """A webhook that only names the lead (Facebook's leadgen_id): keep it and fetch it in a durable job."""
    with transaction.atomic():
        event = record_inbound(connection, key=key, payload=payload, kind=kind)
        if event is not None:
            enqueue_on_commit("capture.process_inbound", {"event_id": event.pk}, key=f"inbound:{event.pk}",
                              max_attempts=settings.NURTURE_CAPTURE_FETCH_ATTEMPTS)  # fmt: skip
    return event


def dead_letter(connection: Connection, *, key: str, payload: dict[str, Any], kind: str, reason: str) -> InboundEvent:
    """Keep a payload that could not even be read as a provider event, so no lead is lost to it."""
    now = clock.now()
    event, _created = InboundEvent.objects.get_or_create(
        connection=connection, key=key[:200],
        defaults={"kind": kind, "payload": payload, "status": InboundEvent.Status.DEAD, "error": reason,
                  "received_at": now, "attempts": 1},
    )  # fmt: skip
    Connection.objects.filter(pk=connection.pk).update(last_event_at=now, last_error=reason, last_error_at=now)
    return event


def process_inbound(event: InboundEvent, *, final: bool = True) -> InboundEvent:
    """Turn a kept event into a lead (or a timeline entry) through its channel. Unmappable: dead, with the
    reason. A provider error (Facebook unreachable) is recorded and raised for the job to retry; on the
    `final` attempt the event goes to the dead-letter list too."""
    from nurture.capture.sources import SOURCES
    from nurture.messaging.providers.http import ProviderError

    now = clock.now()
    connection = event.connection
    try:
        with transaction.atomic():
            contact_id = SOURCES[connection.channel].process(event)
    except (Unmappable, ProviderError) as exc:
        reason = str(exc)[:2000]
        dead = isinstance(exc, Unmappable) or final
        status = InboundEvent.Status.DEAD if dead else InboundEvent.Status.RECEIVED
        # The payload too: what was fetched before the mapping failed is not fetched again on replay.
        InboundEvent.objects.filter(pk=event.pk).update(
            status=status, error=reason, attempts=event.attempts + 1, payload=event.payload
        )
        Connection.objects.filter(pk=connection.pk).update(last_error=reason, last_error_at=now)
        event.status, event.error, event.attempts = status, reason, event.attempts + 1
        if isinstance(exc, ProviderError) and not final:
            raise
        return event
    status = InboundEvent.Status.DONE if contact_id else InboundEvent.Status.WAITING
    InboundEvent.objects.filter(pk=event.pk).update(
        status=status, error="", contact_id=contact_id, attempts=event.attempts + 1, processed_at=now,
        payload=event.payload,  # a source may have added what it fetched (Facebook's lead)
    )  # fmt: skip
    event.status, event.error, event.contact_id, event.processed_at = status, "", contact_id, now
    return event


def replay_inbound(event: InboundEvent, *, payload: dict[str, Any] | None = None) -> InboundEvent:
    """An admin fixed the mapping (or the payload) of a dead event: run it again through the same path."""
    if payload is not None and not isinstance(payload, dict):
        raise InvalidConnection("payload", "a JSON object")
    with transaction.atomic():
        # Locked: a replay from the page and one from the CLI at once must not capture the lead twice.
        locked = InboundEvent.objects.select_for_update().select_related("connection").get(pk=event.pk)
        if locked.status == InboundEvent.Status.DONE:
            raise InvalidConnection("status", "this event was already captured")
        if payload is not None:
            locked.payload = payload
            locked.save(update_fields=["payload"])
        return process_inbound(locked)


def record_test_event(connection: Connection, *, key: str, payload: dict[str, Any]) -> InboundEvent | None:
    """A provider's own "send test data" (Google's is_test): seen on the connections page, no contact made."""
    with transaction.atomic():
        event = record_inbound(connection, key=key, payload=payload, kind="test")
        if event is not None:
            InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.DONE, processed_at=clock.now())
            event.status = InboundEvent.Status.DONE
    return event


def replay_dead_letters(connection: Connection | None = None) -> list[InboundEvent]:
    """Replay every dead event (of one connection), e.g. after its mapping was fixed; each in its own
    transaction, so one that still fails does not hold back the others. Returns them with their new status."""
    dead = InboundEvent.objects.filter(status=InboundEvent.Status.DEAD).select_related("connection")
    if connection is not None:
        dead = dead.filter(connection=connection)
    return [replay_inbound(event) for event in dead.order_by("received_at", "pk")]


def save_tracked_site(site: TrackedSite, *, origin: str, require_consent: bool, is_active: bool = True) -> TrackedSite:
    """Allow a website to send page views (raises ValueError naming a bad origin); applies at once here,
    within a minute in other web processes."""
    site.origin = tracking.normalise_origin(origin)
    site.require_consent, site.is_active = require_consent, is_active
    if site.pk is None:
        site.created_at = clock.now()
    with transaction.atomic():
        site.save()
    tracking.site_cache.forget()
    return site


def delete_tracked_site(site: TrackedSite) -> None:
    """Stop accepting page views from this site; what it already sent stays on the timelines."""
    site.delete()
    tracking.site_cache.forget()


class CampaignError(ValueError):
    """A campaign or cost that cannot be saved: `field` names the culprit, `row` the CSV line if any."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        super().__init__(f"row {row}: {field}: {message}" if row else f"{field}: {message}")
        self.field, self.message, self.row = field, message, row


CAMPAIGN_FIELDS = ("name", "channel", "utm_source", "utm_medium", "utm_campaign", "external_id", "is_active")


def save_campaign(campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    """Create or change a campaign; raises CampaignError naming the field (unknown channel, name or UTM taken)."""
    for name, value in changes.items():
        if name not in CAMPAIGN_FIELDS:
            raise CampaignError(name, _("unknown field"))
        setattr(campaign, name, value.strip() if isinstance(value, str) else value)
    if not campaign.name:
        raise CampaignError("name", _("a campaign needs a name"))
    if campaign.channel not in Channel.values:
        raise CampaignError("channel", _("one of %(list)s") % {"list": ", ".join(Channel.values)})
    if not (campaign.utm_campaign or campaign.external_id):
        raise CampaignError("utm_campaign", _("give the utm_campaign its links carry, or its ad platform id"))
    others = Campaign.objects.exclude(pk=campaign.pk)
    for name in ("name", "utm_campaign", "external_id"):
        value = getattr(campaign, name)
        if value and others.filter(**{f"{name}__iexact": value}).exists():
            raise CampaignError(name, _("another campaign already uses %(value)s") % {"value": value})
    now = clock.now()
    campaign.updated_at = now
    if campaign.pk is None:
        campaign.created_at = now
    with transaction.atomic():
        campaign.save()
    return campaign


@dataclass(frozen=True)
class CostInput:
    campaign: Campaign
    start: date
    end: date
    amount: int
    note: str = ""


def record_costs(items: list[CostInput], *, source: str, user: User | None) -> int:
    """Save cost entries in one transaction; an entry for a campaign's period already known replaces it."""
    for item in items:
        if item.end < item.start:
            raise CampaignError("end", _("the period ends before it starts"))
        if item.amount < 0:
            raise CampaignError("amount", _("a cost cannot be negative"))
    now = clock.now()
    with transaction.atomic():
        for item in items:
            CostEntry.objects.update_or_create(
                campaign=item.campaign, start=item.start, end=item.end,
                defaults={"amount": item.amount, "note": item.note[:200], "source": source[:100]},
                create_defaults={"amount": item.amount, "note": item.note[:200], "source": source[:100],
                                 "created_by": user, "created_at": now},
            )  # fmt: skip
    return len(items)


def delete_cost(entry: CostEntry) -> None:
    entry.delete()


COST_COLUMNS = ("campaign", "start", "end", "amount", "note")


def parse_cost_rows(text: str) -> list[CostInput]:
    """Read a costs CSV (campaign, start, end, amount[, note]); raise CampaignError naming the first bad row.

    `campaign` is the campaign's name, utm_campaign or ad platform id; dates as dd/mm/yyyy or yyyy-mm-dd
    (an empty end means one day); amounts as typed in Vietnam ("1.500.000", "1,500,000 đ").
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("campaign", "start", "amount") if c not in headers]
    if missing:
        raise CampaignError(missing[0], _("the file needs the columns campaign, start, end, amount"), row=1)
    campaigns: dict[str, Campaign] = {}
    for c in Campaign.objects.all():
        for key in (c.name, c.utm_campaign, c.external_id):
            if key:
                campaigns.setdefault(key.lower(), c)
    items = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        campaign = campaigns.get(row["campaign"].lower())
        if campaign is None:
            raise CampaignError("campaign", _("no campaign called %(name)s") % {"name": row["campaign"]}, row=number)
        try:
            start = parse_date(row["start"])
        except ValueError:
            start = None
        if start is None:
            raise CampaignError("start", _("use dd/mm/yyyy"), row=number)
        try:
            end = parse_date(row.get("end", "")) or start
        except ValueError:
            raise CampaignError("end", _("use dd/mm/yyyy"), row=number) from None
        try:
            amount = parse_amount(row["amount"])
        except ValueError:
            raise CampaignError("amount", _("an amount in đồng, e.g. 1.500.000"), row=number) from None
        if end < start:
            raise CampaignError("end", _("the period ends before it starts"), row=number)
        if amount < 0:
            raise CampaignError("amount", _("a cost cannot be negative"), row=number)
        items.append(CostInput(campaign, start, end, amount, row.get("note", "")))
    return items


def import_costs(text: str, *, source: str, user: User | None) -> int:
    """All or nothing: a bad row names itself and nothing is saved."""
    return record_costs(parse_cost_rows(text), source=source, user=user)
