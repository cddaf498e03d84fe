"""Attribution: touchpoints from captures and page views, first/last/linear credit, costs over time, CPL and ROI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import time_machine

from nurture.capture import attribution, tracking
from nurture.capture.actions import CostInput, record_costs, save_campaign, save_lead_form, submit_lead_form
from nurture.capture.models import Campaign, Channel, LeadForm, StagedEvent
from nurture.capture.tests.conftest import SITE
from nurture.contacts.actions import EventInput, capture_lead, change_stage, record_events
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.lifecycle.models import Stage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_english")]
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def at(day: int, month: int = 3) -> datetime:
    return datetime.fromisoformat(f"2026-{month:02d}-{day:02d}T10:00:00+07:00")


def view(aid: str, day: int, **utm: str) -> StagedEvent:
    payload: dict[str, Any] = {"url": f"{SITE}/ielts", "title": "IELTS"}
    if utm:
        payload["utm"] = utm
    return StagedEvent(kind="page", anonymous_id=aid, origin=SITE, at=at(day), received_at=at(day), payload=payload)


@pytest.fixture
def march(db: Any) -> dict[str, Any]:
    """Three leads of March: one from a Facebook ad, one who saw a Google ad then a Facebook ad and bought,
    one typed in with no source; two campaigns with their costs."""
    facebook = save_campaign(Campaign(), {"name": "IELTS T3", "channel": Channel.FACEBOOK, "utm_source": "facebook",
                                          "utm_medium": "cpc", "utm_campaign": "ielts-t3"})  # fmt: skip
    google = save_campaign(Campaign(), {"name": "Google search", "channel": Channel.GOOGLE_ADS,
                                        "utm_source": "google", "utm_campaign": "gg-search"})  # fmt: skip
    record_costs([
        CostInput(facebook, date(2026, 3, 1), date(2026, 3, 31), 3_100_000),
        CostInput(facebook, date(2026, 2, 15), date(2026, 3, 16), 3_000_000),  # 16 of its 30 days in March
        CostInput(google, date(2026, 3, 10), date(2026, 3, 10), 1_000_000),
        CostInput(google, date(2026, 4, 1), date(2026, 4, 30), 9_000_000),  # another month
    ], source="manual", user=None)  # fmt: skip
    a = capture_lead(parse_lead({"phone": "0901000001", "source": "facebook", "medium": "cpc",
                                 "campaign": "ielts-t3"}) | _at(at(2)), event_type=Event.Type.API_CAPTURED)  # fmt: skip
    aid = "visitor-b-0123456789abc"
    tracking.record_staged([view(aid, 3, source="google", medium="cpc", campaign="gg-search"),
                            view(aid, 4, source="facebook", medium="cpc", campaign="ielts-t3")])  # fmt: skip
    form = save_lead_form(LeadForm(name="Đăng ký", slug="dang-ky", source="website"), fields=[
        {"key": "phone", "label": "", "type": "tel", "required": True, "custom": False}],
        consent_texts={}, tags=[], user=None)  # fmt: skip
    with time_machine.travel(at(5), tick=False):
        b = submit_lead_form(form, {"phone": "0901000002", "anonymous_id": aid, "source": "website"})
    b_contact = Contact.objects.get(pk=b.contact_id)
    with time_machine.travel(at(10), tick=False):
        change_stage(b_contact, to_stage=Stage.objects.get(key="customer", stage_set__is_active=True), cause="user")
    record_events([EventInput(contact_id=b.contact_id, type=Event.Type.ORDER_PLACED, at=at(12),
                              data={"order_id": 1, "deal_id": 1, "amount": 10_000_000, "currency": "VND",
                                    "products": ["IELTS"]})])  # fmt: skip
    c = capture_lead(parse_lead({"phone": "0901000003"}) | _at(at(20)), event_type=Event.Type.IMPORTED)
    # Out of the period: a lead of February
    capture_lead(parse_lead({"phone": "0901000004", "source": "facebook", "campaign": "ielts-t3"}) | _at(at(20, 2)),
                 event_type=Event.Type.API_CAPTURED)  # fmt: skip
    return {"a": a.contact_id, "b": b.contact_id, "c": c.contact_id}


class _at:
    """`lead | _at(moment)`: the lead happened at that moment (back-dated capture)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __ror__(self, lead: Any) -> Any:
        lead.occurred_at = self.moment
        return lead


def rows(model: str, group: str = "channel") -> dict[str, tuple[float, float, float, float]]:
    result = attribution.report(*MARCH, model=model, group=group)
    return {r.key: (round(r.leads, 3), round(r.customers, 3), round(r.revenue), round(r.cost)) for r in result.rows}


def test_linear_shares_each_conversion_among_its_touches(march: dict[str, Any]) -> None:
    assert rows("linear") == {
        "facebook": (1.5, 0.5, 5_000_000, 4_700_000),
        "google_ads": (0.5, 0.5, 5_000_000, 1_000_000),
        "direct": (1.0, 0.0, 0, 0),
    }


def test_first_and_last_touch_credit_one_end_of_the_journey(march: dict[str, Any]) -> None:
    assert rows("first_touch") == {
        "facebook": (1.0, 0.0, 0, 4_700_000),
        "google_ads": (1.0, 1.0, 10_000_000, 1_000_000),
        "direct": (1.0, 0.0, 0, 0),
    }
    # The untagged form after the Facebook ad is a direct touch: it does not hide the ad
    assert rows("last_touch") == {
        "facebook": (2.0, 1.0, 10_000_000, 4_700_000),
        "direct": (1.0, 0.0, 0, 0),
        "google_ads": (0.0, 0.0, 0, 1_000_000),
    }


def test_cost_per_lead_per_customer_and_roi(march: dict[str, Any]) -> None:
    result = attribution.report(*MARCH, model="linear", group="campaign")
    by_label = {r.label: r for r in result.rows}
    facebook, google = by_label["IELTS T3"], by_label["Google search"]
    assert round(facebook.cost_per_lead or 0) == round(4_700_000 / 1.5)
    assert facebook.cost_per_customer == 4_700_000 / 0.5
    assert round(facebook.roi or 0, 4) == round((5_000_000 - 4_700_000) / 4_700_000, 4)
    assert google.roi == 4.0
    assert (by_label["(none)"].leads, by_label["(none)"].cost_per_lead, by_label["(none)"].roi) == (1.0, 0.0, None)
    totals = result.totals
    assert (totals.leads, totals.customers, totals.revenue, totals.cost) == (3.0, 1.0, 10_000_000, 5_700_000)


def test_csv_export_has_a_row_per_group_and_the_totals(march: dict[str, Any]) -> None:
    text = attribution.report_csv(attribution.report(*MARCH, model="linear"))
    lines = text.strip().splitlines()
    assert lines[0] == ",".join(attribution.CSV_COLUMNS)
    assert lines[1].split(",")[:7] == ["Facebook", "facebook", "1.5", "0.5", "5000000", "4700000", "3133333"]
    assert lines[-1].split(",")[2:6] == ["3.0", "1.0", "10000000", "5700000"]


@pytest.mark.parametrize(
    ("source", "medium", "channel"),
    [("google", "cpc", "google_ads"), ("google", "organic", "search"), ("coccoc", "organic", "search"),
     ("facebook", "social", "facebook"), ("fb", "cpc", "facebook"), ("zalo", "", "zalo"), ("", "email", "email"),
     ("website", "", "direct"), ("", "", "direct"), ("partner.vn", "referral", "referral"),
     ("hotline", "", "hotline"), ("báo mới", "banner", "other")],
)  # fmt: skip
def test_channel_of_a_touch_without_campaign(source: str, medium: str, channel: str) -> None:
    assert attribution.channel_of(source, medium) == channel


def test_a_lead_ads_lead_counts_for_its_campaign_by_the_ad_platform_id(db: Any) -> None:
    # Given a campaign known by its Facebook id, and a lead whose event carries that id (as a connector keeps it)
    campaign = save_campaign(Campaign(), {"name": "Lead Ads T3", "channel": Channel.ZALO, "external_id": "2385"})
    lead = parse_lead({"phone": "0901000009", "source": "facebook"}) | _at(at(3))
    lead.event_data = {"leadgen_id": "77", "campaign_id": "2385", "ad_id": "99"}
    capture_lead(lead, event_type=Event.Type.FORM_SUBMITTED)
    # Then the lead is that campaign's (its channel is the campaign's, not the one its source suggests)
    rows = attribution.report(*MARCH, model="linear", group="campaign").rows
    assert [(r.label, r.channel, r.leads) for r in rows] == [(campaign.name, Channel.ZALO, 1.0)]
    index = attribution.CampaignIndex(Campaign.objects.all())
    assert index.find(attribution.Touch(at(1), "facebook", "", "other")) is None
