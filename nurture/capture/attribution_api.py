"""Attribution, campaigns, costs and tracked websites in the JSON API (scope `attribution`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey
from nurture.capture import actions, attribution, tracking
from nurture.capture.models import Campaign, Channel, CostEntry, TrackedSite
from nurture.contacts.leads import FieldError, InvalidLead
from nurture.core import clock

router = Router(tags=["attribution"])
MAX_COSTS = 1000


class RowOut(Schema):
    key: str
    label: str
    channel: str
    leads: float
    customers: float
    revenue: float
    cost: float
    cost_per_lead: float | None
    cost_per_customer: float | None
    roi: float | None


class ReportOut(Schema):
    start: date
    end: date
    model: str
    group: str
    rows: list[RowOut]
    totals: RowOut


class CampaignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=200)
    channel: Channel
    utm_source: str = Field("", max_length=100)
    utm_medium: str = Field("", max_length=100)
    utm_campaign: str = Field("", max_length=200)
    external_id: str = Field("", max_length=100)
    is_active: bool = True


class CampaignPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    channel: Channel | None = None
    utm_source: str | None = Field(None, max_length=100)
    utm_medium: str | None = Field(None, max_length=100)
    utm_campaign: str | None = Field(None, max_length=200)
    external_id: str | None = Field(None, max_length=100)
    is_active: bool | None = None


class CampaignOut(Schema):
    id: int
    name: str
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    external_id: str
    is_active: bool


class CostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = Field(None, description="the last day the amount covers; the start when omitted")
    amount: int = Field(..., ge=0, description="VND")
    note: str = Field("", max_length=200)


class CostsIn(Schema):
    costs: list[CostIn] = Field(..., min_length=1, max_length=MAX_COSTS)


class CostOut(Schema):
    id: int
    campaign_id: int
    start: date
    end: date
    amount: int
    note: str
    source: str


class SiteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    origin: str = Field(..., max_length=200, examples=["https://www.example.vn"])
    require_consent: bool = False
    is_active: bool = True


class SiteOut(Schema):
    id: int
    origin: str
    require_consent: bool
    is_active: bool


def _row(row: attribution.Row) -> RowOut:
    return RowOut(key=row.key, label=row.label, channel=row.channel, leads=round(row.leads, 4),
                  customers=round(row.customers, 4), revenue=round(row.revenue), cost=round(row.cost),
                  cost_per_lead=row.cost_per_lead, cost_per_customer=row.cost_per_customer, roi=row.roi)  # fmt: skip


def _campaign(c: Campaign) -> CampaignOut:
    return CampaignOut(id=c.pk, name=c.name, channel=c.channel, utm_source=c.utm_source, utm_medium=c.utm_medium,
                       utm_campaign=c.utm_campaign, external_id=c.external_id, is_active=c.is_active)  # fmt: skip


def _cost(c: CostEntry) -> CostOut:
    return CostOut(id=c.pk, campaign_id=c.campaign_id, start=c.start, end=c.end, amount=c.amount, note=c.note,
                   source=c.source)  # fmt: skip


def _invalid(exc: actions.CampaignError, prefix: str = "") -> InvalidLead:
    return InvalidLead([FieldError(f"{prefix}{exc.field}", "invalid", exc.message)])


def _report(start: date | None, end: date | None, model: str, group: str) -> attribution.Report:
    end = end or timezone.localdate(clock.now())
    start = start or end - timedelta(days=29)
    if end < start:
        raise InvalidLead([FieldError("end", "invalid", "on or after the start")])
    return attribution.report(start, end, model=model, group=group)


Model = Literal["first_touch", "last_touch", "linear"]
Group = Literal["channel", "campaign"]


@router.get("/attribution", response=ReportOut, summary="Leads, customers, revenue, cost, CPL, CPC and ROI")
def get_report(
    request: HttpRequest, start: date | None = None, end: date | None = None, model: Model = "linear",
    group: Group = "channel",
) -> ReportOut:  # fmt: skip
    """Conversions from `start` to `end` (the last 30 days by default) credited by `model`, grouped by `group`."""
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    result = _report(start, end, model, group)
    return ReportOut(start=result.start, end=result.end, model=result.model, group=result.group,
                     rows=[_row(r) for r in result.rows], totals=_row(result.totals))  # fmt: skip


@router.get("/attribution.csv", summary="The same report as CSV", response={200: str})
def get_report_csv(
    request: HttpRequest, start: date | None = None, end: date | None = None, model: Model = "linear",
    group: Group = "channel",
) -> HttpResponse:  # fmt: skip
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    return HttpResponse(attribution.report_csv(_report(start, end, model, group)), content_type="text/csv")


@router.get("/campaigns", response=list[CampaignOut], summary="List campaigns")
def list_campaigns(request: HttpRequest) -> list[CampaignOut]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    return [_campaign(c) for c in Campaign.objects.all()]


@router.post("/campaigns", response={201: CampaignOut}, summary="Create a campaign")
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status[CampaignOut]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    try:
        campaign = actions.save_campaign(Campaign(), payload.dict())
    except actions.CampaignError as exc:
        raise _invalid(exc) from None
    return Status(201, _campaign(campaign))


@router.patch("/campaigns/{campaign_id}", response=CampaignOut, summary="Change a campaign")
def update_campaign(request: HttpRequest, campaign_id: int, payload: CampaignPatch) -> CampaignOut:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        return _campaign(actions.save_campaign(campaign, payload.dict(exclude_unset=True)))
    except actions.CampaignError as exc:
        raise _invalid(exc) from None


@router.get("/campaigns/{campaign_id}/costs", response=list[CostOut], summary="A campaign's cost entries")
def list_costs(request: HttpRequest, campaign_id: int) -> list[CostOut]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    return [_cost(c) for c in get_object_or_404(Campaign, pk=campaign_id).costs.all()]


@router.post("/campaigns/{campaign_id}/costs", response={201: list[CostOut]}, summary="Record costs (all or none)")
def add_costs(request: HttpRequest, campaign_id: int, payload: CostsIn) -> Status[list[CostOut]]:
    """An entry for a period the campaign already has replaces its amount (re-sending a day's spend is safe)."""
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    items = []
    for i, cost in enumerate(payload.costs):
        end = cost.end or cost.start
        if end < cost.start:
            raise InvalidLead([FieldError(f"costs.{i}.end", "invalid", "on or after the start")])
        items.append(actions.CostInput(campaign, cost.start, end, cost.amount, cost.note))
    actions.record_costs(items, source="api", user=acting_user(request))
    saved = CostEntry.objects.filter(campaign=campaign, start__in=[i.start for i in items])
    by_period = {(c.start, c.end): c for c in saved}
    return Status(201, [_cost(by_period[(i.start, i.end)]) for i in items])


@router.get("/tracking/sites", response=list[SiteOut], summary="Websites allowed to send page views")
def list_sites(request: HttpRequest) -> list[SiteOut]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    return [SiteOut.from_orm(s) for s in TrackedSite.objects.order_by("origin")]


@router.post("/tracking/sites", response={201: SiteOut}, summary="Allow a website to send page views")
def add_site(request: HttpRequest, payload: SiteIn) -> Status[SiteOut]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    try:
        origin = tracking.normalise_origin(payload.origin)
    except ValueError as exc:
        raise InvalidLead([FieldError("origin", "invalid", str(exc))]) from None
    if TrackedSite.objects.filter(origin=origin).exists():
        raise InvalidLead([FieldError("origin", "duplicate", "this website is already tracked")])
    site = actions.save_tracked_site(TrackedSite(), origin=origin, require_consent=payload.require_consent,
                                     is_active=payload.is_active)  # fmt: skip
    return Status(201, SiteOut.from_orm(site))


@router.delete("/tracking/sites/{site_id}", response={204: None}, summary="Stop accepting a website's page views")
def delete_site(request: HttpRequest, site_id: int) -> Status[None]:
    require_scope(request, ApiKey.Scope.ATTRIBUTION)
    actions.delete_tracked_site(get_object_or_404(TrackedSite, pk=site_id))
    return Status(204, None)
