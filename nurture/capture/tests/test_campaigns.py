"""Campaigns and costs: typed in, imported (UI, CLI, API), validated; the attribution page, its CSV and API."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.capture.actions import CampaignError, import_costs, save_campaign
from nurture.capture.models import Campaign, Channel, CostEntry, TrackedSite
from nurture.capture.tests.test_attribution import march  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_english")]
COSTS = "\n".join(
    ["campaign,start,end,amount,note", 'ielts-t3,01/03/2026,31/03/2026,"3.100.000",tháng 3',
     "Google search,10/03/2026,,1000000 đ,", ""]
)  # fmt: skip


@pytest.fixture
def campaigns(db: Any) -> tuple[Campaign, Campaign]:
    return (
        save_campaign(Campaign(), {"name": "IELTS T3", "channel": Channel.FACEBOOK, "utm_campaign": "ielts-t3"}),
        save_campaign(Campaign(), {"name": "Google search", "channel": Channel.GOOGLE_ADS, "utm_campaign": "gg"}),
    )


def test_a_cost_file_is_imported_and_importing_it_again_counts_nothing_twice(campaigns: Any) -> None:
    assert import_costs(COSTS, source="import:costs.csv", user=None) == 2
    assert import_costs(COSTS.replace("3.100.000", "3.200.000"), source="import:costs.csv", user=None) == 2
    rows = sorted(CostEntry.objects.values_list("campaign__name", "start", "end", "amount", "note"))
    assert rows == [
        ("Google search", date(2026, 3, 10), date(2026, 3, 10), 1_000_000, ""),
        ("IELTS T3", date(2026, 3, 1), date(2026, 3, 31), 3_200_000, "tháng 3"),
    ]


@pytest.mark.parametrize(
    ("line", "row", "field"),
    [("unknown,01/03/2026,,100", 3, "campaign"), ("gg,32/03/2026,,100", 3, "start"),
     ("gg,01/03/2026,,cent", 3, "amount"), ("gg,05/03/2026,01/03/2026,100", 3, "end"),
     ("gg,01/03/2026,,-5", 3, "amount")],
)  # fmt: skip
def test_a_bad_cost_row_is_named_and_nothing_is_imported(campaigns: Any, line: str, row: int, field: str) -> None:
    text = "campaign,start,end,amount\nielts-t3,01/03/2026,,100\n" + line + "\n"
    with pytest.raises(CampaignError) as caught:
        import_costs(text, source="import:x.csv", user=None)
    assert (caught.value.row, caught.value.field) == (row, field)
    assert CostEntry.objects.count() == 0


def test_the_cli_imports_costs_and_names_a_bad_row(campaigns: Any, tmp_path: Path) -> None:
    good, bad = tmp_path / "costs.csv", tmp_path / "bad.csv"
    good.write_text(COSTS, encoding="utf-8")
    bad.write_text("campaign,start,amount\nielts-t3,hôm qua,100\n", encoding="utf-8")
    out = StringIO()
    call_command("import_costs", str(good), stdout=out)
    assert "2 cost entries imported" in out.getvalue()
    with pytest.raises(CommandError, match=r"row 2, start"):
        call_command("import_costs", str(bad))
    assert CostEntry.objects.count() == 2


def test_campaign_rules(campaigns: Any) -> None:
    with pytest.raises(CampaignError) as taken:
        save_campaign(Campaign(), {"name": "Other", "channel": Channel.ZALO, "utm_campaign": "IELTS-T3"})
    with pytest.raises(CampaignError) as untagged:
        save_campaign(Campaign(), {"name": "Untagged", "channel": Channel.ZALO})
    with pytest.raises(CampaignError) as channel:
        save_campaign(Campaign(), {"name": "X", "channel": "myspace", "utm_campaign": "x"})
    assert (taken.value.field, untagged.value.field, channel.value.field) == ("utm_campaign", "utm_campaign", "channel")
    assert Campaign.objects.count() == 2


def test_the_attribution_page_shows_charts_and_the_table(admin_client: Client, march: Any) -> None:  # noqa: F811
    response = admin_client.get("/attribution/", {"start": "2026-03-01", "end": "2026-03-31", "model": "linear"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg class="bars"') == 2 and 'id="attribution-table"' in page
    assert "<td>4.700.000 ₫</td>" in page and "<td>3.133.333 ₫</td>" in page
    csv = admin_client.get("/attribution/report.csv", {"start": "2026-03-01", "end": "2026-03-31", "group": "campaign"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "IELTS T3,facebook,1.5,0.5,5000000,4700000" in csv.content.decode()
    bad = admin_client.get("/attribution/", {"start": "2026-03-31", "end": "2026-03-01"})
    assert bad.status_code == 422


def test_a_rep_cannot_see_attribution(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/attribution/").status_code == 403
    assert client.get("/attribution/campaigns/").status_code == 403
    assert client.get("/tracking/").status_code == 403
    assert client.get("/api/v1/attribution").status_code == 403


def test_costs_typed_in_and_imported_on_the_pages(admin_client: Client, campaigns: Any) -> None:
    ielts = campaigns[0]
    page = f"/attribution/campaigns/{ielts.pk}/"
    added = admin_client.post(page, {"form": "cost", "start": "2026-03-02", "amount": "1.500.000", "note": "tuần 1"})
    refused = admin_client.post(page, {"form": "cost", "start": "2026-03-02", "amount": "nhiều"})
    assert added.status_code == 302 and refused.status_code == 422
    assert list(ielts.costs.values_list("start", "end", "amount")) == [(date(2026, 3, 2), date(2026, 3, 2), 1_500_000)]
    upload = SimpleUploadedFile("costs.csv", COSTS.encode(), content_type="text/csv")
    assert admin_client.post("/attribution/costs/import", {"file": upload}).status_code == 302
    assert CostEntry.objects.count() == 3
    taken = {"name": "Zalo T3", "channel": "zalo", "utm_campaign": "ielts-t3", "is_active": "on"}
    new = admin_client.post("/attribution/campaigns/", taken)
    assert new.status_code == 422 and "ielts-t3" in new.content.decode()


def test_the_api(admin_user: User, march: Any) -> None:  # noqa: F811
    _key, raw = create_api_key(name="bi", scopes=["attribution"], created_by=admin_user)
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    report = api.get("/api/v1/attribution", {"start": "2026-03-01", "end": "2026-03-31", "model": "first_touch"})
    assert report.status_code == 200, report.content
    data = report.json()
    assert {r["key"]: r["leads"] for r in data["rows"]} == {"facebook": 1.0, "google_ads": 1.0, "direct": 1.0}
    assert data["totals"]["revenue"] == 10_000_000
    csv = api.get("/api/v1/attribution.csv", {"start": "2026-03-01", "end": "2026-03-31", "model": "first_touch"})
    assert csv.status_code == 200 and csv.content.decode().splitlines()[-1].startswith("Total,,3.0,1.0,10000000")
    assert api.get("/api/v1/attribution", {"model": "everything"}).status_code == 422
    zalo = {"name": "Zalo T3", "channel": "zalo", "utm_campaign": "z3"}
    created = api.post("/api/v1/campaigns", data=json.dumps(zalo), content_type="application/json")
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    same_tag = {"name": "Zalo 2", "channel": "zalo", "utm_campaign": "Z3"}
    duplicate = api.post("/api/v1/campaigns", data=json.dumps(same_tag), content_type="application/json")
    assert duplicate.status_code == 422 and duplicate.json()["detail"][0]["loc"] == ["body", "utm_campaign"]
    costs = api.post(f"/api/v1/campaigns/{campaign_id}/costs", data=json.dumps({"costs": [
        {"start": "2026-03-01", "amount": 200000}, {"start": "2026-03-02", "end": "2026-03-08", "amount": 700000}]}),
        content_type="application/json")  # fmt: skip
    assert costs.status_code == 201, costs.content
    assert [c["amount"] for c in costs.json()] == [200_000, 700_000]
    backwards = api.post(f"/api/v1/campaigns/{campaign_id}/costs", data=json.dumps({"costs": [
        {"start": "2026-03-05", "end": "2026-03-01", "amount": 1}]}), content_type="application/json")  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["body", "costs", "0", "end"]
    site = api.post("/api/v1/tracking/sites", data=json.dumps({"origin": "https://Shop.example.vn/"}),
                    content_type="application/json")  # fmt: skip
    assert site.status_code == 201 and site.json()["origin"] == "https://shop.example.vn"
    assert api.post("/api/v1/tracking/sites", data=json.dumps({"origin": "shop.example.vn/path"}),
                    content_type="application/json").status_code == 422  # fmt: skip
    assert list(TrackedSite.objects.values_list("origin", flat=True)) == ["https://shop.example.vn"]
    _key, other = create_api_key(name="leads only", scopes=["leads:write"], created_by=admin_user)
    assert Client(headers={"Authorization": f"Bearer {other}"}).get("/api/v1/campaigns").status_code == 403


def test_a_campaign_is_edited_and_a_cost_removed_on_its_page(admin_client: Client, campaigns: Any) -> None:
    ielts, google = campaigns
    page = f"/attribution/campaigns/{ielts.pk}/"
    fields = {"form": "campaign", "name": "IELTS tháng 3", "channel": "facebook", "utm_source": "facebook",
              "utm_medium": "cpc", "utm_campaign": "ielts-t3", "external_id": "", "is_active": "on"}  # fmt: skip
    assert admin_client.post(page, fields).status_code == 302
    taken = admin_client.post(page, {**fields, "utm_campaign": google.utm_campaign})
    assert taken.status_code == 422
    ielts.refresh_from_db()
    assert (ielts.name, ielts.utm_source, ielts.utm_campaign) == ("IELTS tháng 3", "facebook", "ielts-t3")
    admin_client.post(page, {"form": "cost", "start": "2026-03-02", "amount": "100000"})
    cost = CostEntry.objects.get()
    assert admin_client.post(f"/attribution/costs/{cost.pk}/delete").status_code == 302
    assert not CostEntry.objects.exists()
