"""Attribution: which channels and campaigns brought leads, customers and revenue, and what each cost.

A contact's touchpoints are its timeline events carrying `data.attribution` with a source, medium or
campaign: captures (forms, API, imports, connectors) and website page views with UTM tags or an outside
referrer. Each conversion (a contact becoming a lead, becoming a customer, an order) credits the touchpoints
before it: all to the first (first touch), all to the last (last touch) or equal shares (linear).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from nurture.capture.models import Campaign, Channel, CostEntry
from nurture.contacts.models import Contact, Event
from nurture.lifecycle.models import Stage, StageChange
from nurture.lifecycle.presets import ANONYMOUS_STAGE

MODELS = ("first_touch", "last_touch", "linear")
GROUPS = ("channel", "campaign")
CHUNK = 500
PAID_MEDIA = {"cpc", "ppc", "paid", "paidsocial", "paid_social", "paid-social", "cpm", "ads", "ad", "display"}
SOURCE_CHANNELS = {
    "facebook": Channel.FACEBOOK, "fb": Channel.FACEBOOK, "instagram": Channel.FACEBOOK, "messenger": Channel.FACEBOOK,
    "zalo": Channel.ZALO, "tiktok": Channel.TIKTOK, "email": Channel.EMAIL, "newsletter": Channel.EMAIL,
    "sms": Channel.SMS, "hotline": Channel.HOTLINE, "call": Channel.HOTLINE, "phone": Channel.HOTLINE,
    "callcenter": Channel.HOTLINE, "call_center": Channel.HOTLINE, "offline": Channel.HOTLINE,
}  # fmt: skip
MEDIUM_CHANNELS = {
    "email": Channel.EMAIL, "sms": Channel.SMS, "organic": Channel.SEARCH, "social": Channel.SOCIAL,
    "referral": Channel.REFERRAL,
}  # fmt: skip
DIRECT_SOURCES = {"", "direct", "(direct)", "website", "manual", "import", "api"}


@dataclass(frozen=True)
class Touch:
    at: datetime
    source: str
    medium: str
    campaign: str
    campaign_id: str = ""


@dataclass
class Row:
    key: str
    label: str
    channel: str
    leads: float = 0.0
    customers: float = 0.0
    revenue: float = 0.0
    cost: float = 0.0

    @property
    def cost_per_lead(self) -> float | None:
        return self.cost / self.leads if self.leads else None

    @property
    def cost_per_customer(self) -> float | None:
        return self.cost / self.customers if self.customers else None

    @property
    def roi(self) -> float | None:
        """(revenue - cost) / cost: 1.5 means each đồng spent brought back 2.5."""
        return (self.revenue - self.cost) / self.cost if self.cost else None


@dataclass
class Report:
    start: date
    end: date
    model: str
    group: str
    rows: list[Row] = field(default_factory=list)

    @property
    def totals(self) -> Row:
        total = Row("total", _("Total"), "")
        for row in self.rows:
            total.leads += row.leads
            total.customers += row.customers
            total.revenue += row.revenue
            total.cost += row.cost
        return total


def channel_of(source: str, medium: str) -> str:
    """The channel of a touch with no known campaign, from its UTM source and medium."""
    source, medium = source.strip().lower(), medium.strip().lower()
    if source in ("google", "adwords", "googleads", "google_ads"):
        return Channel.GOOGLE_ADS if medium in PAID_MEDIA else Channel.SEARCH
    if source in SOURCE_CHANNELS:
        return SOURCE_CHANNELS[source]
    if medium in MEDIUM_CHANNELS:
        return MEDIUM_CHANNELS[medium]
    if source in DIRECT_SOURCES and not medium:
        return Channel.DIRECT
    return Channel.OTHER


class CampaignIndex:
    """Finds a touch's campaign by ad platform id or utm_campaign (case-insensitive, and the source if set)."""

    def __init__(self, campaigns: Iterable[Campaign]) -> None:
        self.by_utm: dict[str, Campaign] = {}
        self.by_external: dict[str, Campaign] = {}
        self.all = list(campaigns)
        for c in self.all:
            if c.utm_campaign:
                self.by_utm[c.utm_campaign.lower()] = c
            if c.external_id:
                self.by_external[c.external_id] = c

    def find(self, touch: Touch) -> Campaign | None:
        if touch.campaign_id and touch.campaign_id in self.by_external:
            return self.by_external[touch.campaign_id]
        found = self.by_utm.get(touch.campaign.lower()) if touch.campaign else None
        if found and found.utm_source and found.utm_source.lower() != touch.source.lower():
            return None
        return found


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def touches_of(contact_ids: Iterable[int], until: datetime) -> dict[int, list[Touch]]:
    """Each contact's touchpoints up to `until`, oldest first; one touch repeated in a row counts once."""
    found: dict[int, list[Touch]] = defaultdict(list)
    ids = sorted(set(contact_ids))
    for chunk in _chunks(ids):
        rows = (
            Event.objects.filter(
                contact_id__in=chunk,
                at__lte=until,
                data__attribution__has_any_keys=["source", "medium", "campaign", "campaign_id"],
            )
            .order_by("contact_id", "at", "id")
            .values_list("contact_id", "at", "data")
        )
        for contact_id, at, data in rows:
            attribution = (data or {}).get("attribution") or {}
            source, medium = str(attribution.get("source", "")), str(attribution.get("medium", ""))
            campaign = str(attribution.get("campaign", ""))
            # Connectors keep the ad platform's ids on the event; a campaign id is matched to a Campaign.
            campaign_id = str(attribution.get("campaign_id") or data.get("campaign_id") or "")
            if not (source or medium or campaign or campaign_id):
                continue
            touch = Touch(at, source, medium, campaign, campaign_id)
            previous = found[contact_id][-1] if found[contact_id] else None
            if previous is None or (previous.source, previous.medium, previous.campaign) != (source, medium, campaign):
                found[contact_id].append(touch)
    return found


def credits(touches: list[Touch], model: str) -> list[tuple[Touch, float]]:
    if not touches:
        return []
    if model == "first_touch":
        return [(touches[0], 1.0)]
    if model == "last_touch":
        return [(touches[-1], 1.0)]
    share = 1.0 / len(touches)
    return [(t, share) for t in touches]


@dataclass(frozen=True)
class Conversion:
    contact_id: int
    at: datetime
    kind: str  # lead, customer, revenue
    value: float = 1.0


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def conversions(start: date, end: date) -> list[Conversion]:
    """Leads (first stage after Anonymous), customers (first won stage, still won) and orders in the period."""
    since, until = _bounds(start, end)
    live = Contact.objects.filter(merged_into__isnull=True)
    found: list[Conversion] = []
    became_lead = (
        StageChange.objects.filter(contact__in=live)
        .exclude(to_stage__key=ANONYMOUS_STAGE)
        .values("contact_id")
        .annotate(first=Min("at"))
        .filter(first__gte=since, first__lt=until)
    )
    found += [Conversion(r["contact_id"], r["first"], "lead") for r in became_lead]
    won = Stage.objects.filter(outcome=Stage.Outcome.WON)
    became_customer = (
        StageChange.objects.filter(contact__in=live.filter(stage__in=won), to_stage__in=won)
        .values("contact_id")
        .annotate(first=Min("at"))
        .filter(first__gte=since, first__lt=until)
    )
    found += [Conversion(r["contact_id"], r["first"], "customer") for r in became_customer]
    orders = Event.objects.filter(type=Event.Type.ORDER_PLACED, at__gte=since, at__lt=until, contact__in=live)
    for contact_id, at, data in orders.values_list("contact_id", "at", "data"):
        amount = (data or {}).get("amount")
        if isinstance(amount, int) and not isinstance(amount, bool) and amount > 0:
            found.append(Conversion(contact_id, at, "revenue", float(amount)))
    return found


def _fallback(contact: Mapping[str, Any], at: datetime) -> list[Touch]:
    """A contact with no touchpoint on its timeline (an older import) counts by its own first-touch fields."""
    return [Touch(at, contact["source"], contact["medium"], contact["campaign"])]


def prorated_costs(start: date, end: date) -> dict[int, float]:
    """Each campaign's spend inside the period: an entry counts for the share of its days that fall in it."""
    spend: dict[int, float] = defaultdict(float)
    for entry in CostEntry.objects.filter(start__lte=end, end__gte=start):
        overlap = (min(entry.end, end) - max(entry.start, start)).days + 1
        spend[entry.campaign_id] += entry.amount * overlap / entry.days
    return spend


def report(start: date, end: date, *, model: str = "linear", group: str = "channel") -> Report:
    """Leads, customers and revenue credited to each channel (or campaign), with cost, CPL, CPC and ROI."""
    if model not in MODELS:
        raise ValueError(f"model: one of {', '.join(MODELS)}")
    if group not in GROUPS:
        raise ValueError(f"group: one of {', '.join(GROUPS)}")
    if end < start:
        raise ValueError("end: on or after the start")
    index = CampaignIndex(Campaign.objects.all())
    labels = dict(Channel.choices)
    rows: dict[str, Row] = {}

    def row_for(touch: Touch) -> Row:
        campaign = index.find(touch)
        channel = campaign.channel if campaign else channel_of(touch.source, touch.medium)
        if group == "channel":
            key, label = channel, str(labels.get(channel, channel))
        elif campaign is not None:
            key, label = f"campaign:{campaign.pk}", campaign.name
        else:
            key = f"utm:{touch.source}/{touch.medium}/{touch.campaign}"
            label = " / ".join(p for p in (touch.source, touch.medium, touch.campaign) if p) or _("(none)")
        if key not in rows:
            rows[key] = Row(key, label, channel)
        return rows[key]

    found = conversions(start, end)
    ids = {c.contact_id for c in found}
    until = _bounds(start, end)[1]
    touches = touches_of(ids, until)
    contacts = {
        c["pk"]: c
        for chunk in _chunks(sorted(ids))
        for c in Contact.objects.filter(pk__in=chunk).values("pk", "source", "medium", "campaign")
    }

    def direct(touch: Touch) -> bool:
        return index.find(touch) is None and channel_of(touch.source, touch.medium) == Channel.DIRECT

    for conversion in found:
        before = [t for t in touches.get(conversion.contact_id, []) if t.at <= conversion.at]
        # A direct visit (a form without tags, a typed address) does not hide the campaign that came before it.
        before = [t for t in before if not direct(t)] or before
        for touch, share in credits(before or _fallback(contacts[conversion.contact_id], conversion.at), model):
            row = row_for(touch)
            if conversion.kind == "lead":
                row.leads += share
            elif conversion.kind == "customer":
                row.customers += share
            else:
                row.revenue += share * conversion.value
    campaigns = {c.pk: c for c in index.all}
    for campaign_id, spent in prorated_costs(start, end).items():
        campaign = campaigns[campaign_id]
        touch = Touch(until, campaign.utm_source, campaign.utm_medium, campaign.utm_campaign, campaign.external_id)
        row_for(touch).cost += spent
    ordered = sorted(rows.values(), key=lambda r: (-r.leads, -r.revenue, r.label))
    return Report(start, end, model, group, ordered)


CSV_COLUMNS = ("group", "channel", "leads", "customers", "revenue_vnd", "cost_vnd", "cost_per_lead_vnd",
               "cost_per_customer_vnd", "roi")  # fmt: skip


def report_csv(result: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in [*result.rows, result.totals]:
        writer.writerow([
            row.label, row.channel, round(row.leads, 2), round(row.customers, 2), round(row.revenue),
            round(row.cost), _round(row.cost_per_lead), _round(row.cost_per_customer),
            "" if row.roi is None else round(row.roi, 3),
        ])  # fmt: skip
    return out.getvalue()


def _round(value: float | None) -> int | str:
    return "" if value is None else round(value)
