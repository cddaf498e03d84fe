"""The public tracking endpoint: allowed origins only, validated batches staged in one insert, 202."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from nurture.capture.actions import save_tracked_site
from nurture.capture.models import StagedEvent, TrackedSite
from nurture.capture.tests.conftest import SITE, page, send, visitor_id

pytestmark = pytest.mark.django_db


def test_a_batch_from_an_allowed_site_is_staged(site: TrackedSite, client: Client) -> None:
    # Given a visitor who viewed two pages, the first from a Facebook ad
    aid = visitor_id()
    events = [
        page(f"{SITE}/ielts?utm_source=facebook", title="IELTS", referrer="https://l.facebook.com/", ts=990_000,
             source="facebook", medium="cpc", campaign="ielts-t9"),
        page(f"{SITE}/hoc-phi", title="Học phí", referrer=f"{SITE}/ielts", ts=1_000_000),
    ]  # fmt: skip
    # When the snippet sends them
    response = send(client, aid, events)
    # Then they are accepted for the worker, with CORS for that site only
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2}
    assert response["Access-Control-Allow-Origin"] == SITE
    rows = list(StagedEvent.objects.order_by("id"))
    assert [(r.kind, r.anonymous_id, r.origin) for r in rows] == [("page", aid, SITE)] * 2
    assert rows[0].payload == {"url": f"{SITE}/ielts?utm_source=facebook", "title": "IELTS",
                               "referrer": "https://l.facebook.com/",
                               "utm": {"source": "facebook", "medium": "cpc", "campaign": "ielts-t9"}}  # fmt: skip
    # The browser held the first view 10 s longer: it happened 10 s before the second.
    assert (rows[1].at - rows[0].at).total_seconds() == 10


def test_other_origins_are_refused_and_nothing_is_stored(site: TrackedSite, client: Client) -> None:
    # Given one allowed site; when another site, or a request without an Origin, sends a batch
    refused = send(client, visitor_id(), [page("https://evil.example/x")], origin="https://evil.example")
    preflight = client.options("/t/collect", headers={"Origin": "https://evil.example"})
    no_origin = client.post("/t/collect", data="{}", content_type="text/plain")
    # Then all are refused with 403 and no CORS grant
    assert (refused.status_code, preflight.status_code, no_origin.status_code) == (403, 403, 403)
    assert refused.json()["detail"][0]["loc"] == ["header", "Origin"]
    assert "Access-Control-Allow-Origin" not in refused
    assert StagedEvent.objects.count() == 0


def test_an_allowed_preflight_is_granted(site: TrackedSite, client: Client) -> None:
    response = client.options("/t/collect", headers={"Origin": SITE})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_a_turned_off_site_is_refused(site: TrackedSite, client: Client) -> None:
    save_tracked_site(site, origin=site.origin, require_consent=False, is_active=False)
    assert send(client, visitor_id(), [page(f"{SITE}/")]).status_code == 403
    assert StagedEvent.objects.count() == 0


OK = page(f"{SITE}/ok")


@pytest.mark.parametrize(
    ("events", "loc"),
    [
        ([OK, page("javascript:alert(1)")], ["body", "events", "1", "url"]),
        ([OK, {"type": "click", "ts": 1}], ["body", "events", "1", "type"]),
        ([OK, page(f"{SITE}/", title="x" * 301)], ["body", "events", "1", "title"]),
        ([OK, {**page(f"{SITE}/"), "utm": {"source": "fb", "evil": "1"}}], ["body", "events", "1", "utm"]),
        ([OK, {"type": "identify", "ts": 1, "traits": {"email": "not-an-email"}}],
         ["body", "events", "1", "traits", "email"]),
        ([OK, {**page(f"{SITE}/"), "ts": "yesterday"}], ["body", "events", "1", "ts"]),
        ([OK] * 51, ["body", "events"]),
        ([], ["body", "events"]),
    ],
)  # fmt: skip
def test_a_bad_event_names_its_field_and_nothing_is_stored(
    site: TrackedSite, client: Client, events: list[Any], loc: list[str]
) -> None:
    # When a batch holding a bad event (or too many, or none) is sent
    response = send(client, visitor_id(), events)
    # Then the batch is refused with the field named, and nothing is half-stored
    assert response.status_code == 422, response.content
    assert [d["loc"] for d in response.json()["detail"]] == [loc]
    assert response["Access-Control-Allow-Origin"] == SITE
    assert StagedEvent.objects.count() == 0


def test_a_bad_visitor_id_or_body_is_refused(site: TrackedSite, client: Client) -> None:
    short = send(client, "abc", [page(f"{SITE}/")])
    not_json = client.post("/t/collect", data="{oops", content_type="text/plain", headers={"Origin": SITE})
    assert short.status_code == not_json.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "anonymous_id"]
    assert not_json.json()["detail"][0]["type"] == "invalid_json"
    assert StagedEvent.objects.count() == 0


def test_a_site_asking_for_consent_refuses_batches_without_it(client: Client, db: Any) -> None:
    save_tracked_site(TrackedSite(), origin=SITE, require_consent=True)
    aid = visitor_id()
    without = send(client, aid, [page(f"{SITE}/")])
    with_consent = send(client, aid, [page(f"{SITE}/")], consent=True)
    assert without.status_code == 422
    assert without.json()["detail"][0]["loc"] == ["body", "consent"]
    assert with_consent.status_code == 202
    assert StagedEvent.objects.count() == 1


def test_a_flood_from_one_address_is_rate_limited(site: TrackedSite, client: Client, settings: Any) -> None:
    settings.NURTURE_TRACKING_RATE_LIMIT = 3
    statuses = [send(client, visitor_id(), [page(f"{SITE}/")]).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    assert StagedEvent.objects.count() == 3


def test_the_snippet_is_served_by_nurture(client: Client) -> None:
    response = client.get("/t/nurture.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert '"/t/collect"' in body and "sendBeacon" in body and "doNotTrack" in body
    assert "://" not in body.split("*/", 1)[1]  # no address of any third party: it posts to where it came from


def test_the_tracking_page_adds_changes_and_removes_sites(admin_client: Client, _english: None) -> None:
    # When an admin adds a website, with a path by mistake, then properly
    wrong = admin_client.post("/tracking/", {"origin": "https://www.saomai.edu.vn/khoa-hoc"})
    added = admin_client.post("/tracking/", {"origin": "https://WWW.saomai.edu.vn/", "require_consent": ""})
    again = admin_client.post("/tracking/", {"origin": "https://www.saomai.edu.vn"})
    # Then the mistake and the duplicate are refused on the field, and the site is accepted at once
    assert (wrong.status_code, added.status_code, again.status_code) == (422, 302, 422)
    assert "no path" in wrong.content.decode() and "already tracked" in again.content.decode()
    site = TrackedSite.objects.get()
    assert (site.origin, site.require_consent, site.is_active) == (SITE, False, True)
    html = admin_client.get("/tracking/").content.decode()
    assert SITE in html and "/t/nurture.js" in html
    # When it is set to ask for consent, then removed
    admin_client.post(f"/tracking/sites/{site.pk}", {"require_consent": "1", "is_active": "1"})
    site.refresh_from_db()
    assert site.require_consent is True
    admin_client.post(f"/tracking/sites/{site.pk}", {"action": "delete"})
    assert not TrackedSite.objects.exists()
    assert send(Client(), visitor_id(), [page(f"{SITE}/")]).status_code == 403
