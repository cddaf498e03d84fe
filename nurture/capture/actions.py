"""Capture actions: lead forms (builder, submissions), spreadsheet imports, and channel connections (webhooks
from Facebook, Zalo, Google Ads, chatbots and call centres, with their dead-letter list)."""

from __future__ import annotations

import csv
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from nurture.accounts.models import User
from nurture.capture import importing
from nurture.capture.models import Connection, ImportJob, InboundEvent, LeadForm
from nurture.contacts.actions import CaptureResult, capture_lead
from nurture.contacts.leads import InvalidLead, LeadInput, parse_lead
from nurture.contacts.models import Event
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
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
