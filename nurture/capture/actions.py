"""Capture actions: lead forms (builder, submissions) and spreadsheet imports."""

from __future__ import annotations

import csv
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from nurture.accounts.models import User
from nurture.capture import importing
from nurture.capture.models import ImportJob, LeadForm
from nurture.contacts.actions import CaptureResult, capture_lead
from nurture.contacts.leads import parse_lead
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
