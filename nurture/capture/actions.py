"""Capture actions: lead forms (builder, submissions), spreadsheet imports, tracked websites, campaigns and costs.

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
from django.db import transaction
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.capture import importing, tracking
from nurture.capture.models import Campaign, Channel, CostEntry, ImportJob, LeadForm, TrackedSite
from nurture.capture.tracking import capture_and_stitch
from nurture.contacts.actions import CaptureResult
from nurture.contacts.leads import parse_date, parse_lead
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
    return capture_and_stitch(
        [lead],
        event_type=Event.Type.FORM_SUBMITTED,
        cause=StageChange.Cause.CAPTURE,
        source_label=f"form:{lead_form.slug}",
    )[0]


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
