"""The worker turns staged events into anonymous contacts and page views; forms, the API and identify stitch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from nurture.accounts.models import User
from nurture.availability.actions import save_business_hours
from nurture.capture import spam, tracking
from nurture.capture.actions import save_lead_form
from nurture.capture.builder import TIMESTAMP
from nurture.capture.models import LeadForm, StagedEvent, TrackedSite
from nurture.capture.tests.conftest import SITE, page, send, visitor_id
from nurture.contacts.actions import capture_lead
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event, Identity
from nurture.identity.actions import unmerge
from nurture.identity.models import Merge
from nurture.lifecycle.actions import install_starter_rules
from nurture.routing import actions as routing
from nurture.scoring.actions import save_rule as save_points_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_form(db: Any, settings: Any) -> LeadForm:
    settings.NURTURE_FORM_MIN_SECONDS = 0
    cache.clear()
    return save_lead_form(
        LeadForm(name="Học thử", slug="hoc-thu", source="website"),
        fields=[
            {"key": "full_name", "label": "", "type": "text", "required": True, "custom": False},
            {"key": "phone", "label": "", "type": "tel", "required": True, "custom": False},
        ],
        consent_texts={},
        tags=[],
        user=None,
    )


def visit(client: Client, aid: str) -> None:
    """The visitor lands from a Facebook ad, reads the price page; the worker records both."""
    events = [
        page(f"{SITE}/ielts?utm_source=facebook&utm_medium=cpc", title="Khóa IELTS", referrer="https://l.facebook.com/",
             ts=990_000, source="facebook", medium="cpc", campaign="ielts-t9"),
        page(f"{SITE}/hoc-phi", title="Học phí", referrer=f"{SITE}/ielts", ts=1_000_000),
    ]  # fmt: skip
    assert send(client, aid, events).status_code == 202
    assert tracking.process_staged_events() is True


def submit(client: Client, aid: str, **fields: str) -> Any:
    data = {"full_name": "Nguyễn Văn An", "phone": "0912345678", "anonymous_id": aid, TIMESTAMP: spam.issue_token(),
            "website": "", **fields}  # fmt: skip
    return client.post("/f/hoc-thu", data)


def test_a_new_visitor_becomes_an_anonymous_contact_with_its_page_views(site: TrackedSite, client: Client) -> None:
    # Given a visitor's two page views staged by the endpoint
    aid = visitor_id()
    # When the worker runs
    visit(client, aid)
    # Then one anonymous contact holds both views, first touch from the ad, and the staging table is empty
    contact = Contact.objects.get(identities__kind="anonymous", identities__value=aid)
    assert contact.stage.key == "anonymous"
    assert (contact.source, contact.medium, contact.campaign) == ("facebook", "cpc", "ielts-t9")
    assert contact.landing_url == f"{SITE}/ielts?utm_source=facebook&utm_medium=cpc"
    views = list(contact.events.order_by("at").values_list("type", "data__title"))
    assert views == [(Event.Type.PAGE_VIEWED, "Khóa IELTS"), (Event.Type.PAGE_VIEWED, "Học phí")]
    assert StagedEvent.objects.count() == 0
    assert tracking.process_staged_events() is False

    # When the same visitor comes back from Google search
    send(client, aid, [page(f"{SITE}/lich-khai-giang", referrer="https://www.google.com.vn/")])
    tracking.process_staged_events()
    # Then the view lands on the same contact, with the search touch on the event and the first touch kept
    contact.refresh_from_db()
    assert Contact.objects.filter(identities__value=aid).count() == 1
    last = contact.events.order_by("-at", "-id").first()
    assert last is not None and last.data["attribution"]["source"] == "google"
    assert last.data["attribution"]["medium"] == "organic"
    assert contact.source == "facebook"


def test_a_form_with_the_visitor_id_turns_the_visitor_into_the_lead(
    site: TrackedSite, lead_form: LeadForm, client: Client
) -> None:
    # Given an anonymous visitor with two page views
    aid = visitor_id()
    visit(client, aid)
    visitor = Contact.objects.get(identities__value=aid)
    # When they fill in the hosted form, which carries their id
    response = submit(client, aid)
    # Then the visitor's contact is the lead now: named, out of the Anonymous stage, views on its timeline
    assert response.status_code == 200, response.content
    contact = Contact.objects.get(identities__kind="phone", identities__value="+84912345678")
    assert contact.pk == visitor.pk
    assert contact.full_name == "Nguyễn Văn An"
    assert contact.stage.key == "lead"
    assert contact.source == "facebook"  # the ad that brought them, not the form
    types = list(contact.events.order_by("at", "id").values_list("type", flat=True))
    viewed, submitted, moved = Event.Type.PAGE_VIEWED, Event.Type.FORM_SUBMITTED, Event.Type.STAGE_CHANGED
    assert types == [viewed, viewed, submitted, moved]
    assert Contact.objects.count() == 1


def test_a_known_person_identified_on_the_website_takes_the_visitor_history(
    site: TrackedSite, lead_form: LeadForm, client: Client
) -> None:
    # Given a contact known by phone (from the hotline) and, separately, an anonymous visitor
    known = capture_lead(parse_lead({"full_name": "Nguyễn Văn An", "phone": "0912 345 678", "source": "hotline"}),
                         event_type=Event.Type.API_CAPTURED)  # fmt: skip
    aid = visitor_id()
    visit(client, aid)
    visitor = Contact.objects.get(identities__value=aid)
    # When the visitor submits the form with that phone
    submit(client, aid)
    # Then the visitor is merged into the known contact through the identity app's merge
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.merged_id) == (known.contact_id, visitor.pk)
    contact = Contact.objects.get(pk=known.contact_id)
    assert Identity.objects.get(kind="anonymous", value=aid).contact_id == contact.pk
    assert contact.events.filter(type=Event.Type.PAGE_VIEWED).count() == 2
    assert contact.stage.key == "lead"
    assert (contact.source, contact.campaign) == ("facebook", "ielts-t9")  # first touch: the visit came first
    # And later page views from that browser land straight on the contact
    send(client, aid, [page(f"{SITE}/cam-on")])
    tracking.process_staged_events()
    assert contact.events.filter(type=Event.Type.PAGE_VIEWED).count() == 3


def test_identify_from_the_page_stitches_through_the_worker(site: TrackedSite, client: Client) -> None:
    # Given an anonymous visitor
    aid = visitor_id()
    visit(client, aid)
    # When the site's own form calls nurture.identify({...})
    identify = {"type": "identify", "ts": 1_000_000, "traits": {"email": "An@Example.vn", "full_name": "Lê An"}}
    assert send(client, aid, [identify]).status_code == 202
    tracking.process_staged_events()
    # Then the visitor is a lead with that email, with the views and an "identified" event
    contact = Contact.objects.get(identities__value=aid)
    assert (contact.email, contact.full_name, contact.stage.key) == ("an@example.vn", "Lê An", "lead")
    assert contact.events.filter(type=Event.Type.IDENTIFIED).count() == 1
    assert contact.events.filter(type=Event.Type.PAGE_VIEWED).count() == 2


def test_the_capture_api_stitches_and_checks_the_visitor_id(site: TrackedSite, client: Client, api: Client) -> None:
    aid = visitor_id()
    visit(client, aid)
    bad = api.post("/api/v1/leads", data=json.dumps({"phone": "0987654321", "anonymous_id": "x y"}),
                   content_type="application/json")  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "anonymous_id"]
    assert not Contact.objects.filter(phone="+84987654321").exists()
    good = api.post("/api/v1/leads", data=json.dumps({"phone": "0987654321", "anonymous_id": aid}),
                    content_type="application/json")  # fmt: skip
    assert good.status_code in (200, 201), good.content
    contact = Contact.objects.get(pk=good.json()["contact_id"])
    assert contact.stage.key == "lead"
    assert contact.events.filter(type=Event.Type.PAGE_VIEWED).count() == 2


def test_anonymous_visitors_are_routed_only_once_identified(
    site: TrackedSite, lead_form: LeadForm, client: Client, alice: User
) -> None:
    # Given a catch-all assignment rule and a rep working around the clock
    always = {str(day): [["00:00", "24:00"]] for day in range(7)}
    save_business_hours(weekly=always, use_official_holidays=False, actor=None)
    routing.save_rule(None, {"name": "All leads", "strategy": "round_robin"}, [(alice, 1)])
    aid = visitor_id()
    # When a visitor browses, nobody is assigned to them
    visit(client, aid)
    visitor = Contact.objects.get(identities__value=aid)
    assert visitor.owner_id is None
    # When they fill in the form, the lead goes to the rep
    submit(client, aid)
    visitor.refresh_from_db()
    assert visitor.owner_id == alice.pk


def test_a_bad_row_is_set_aside_and_the_rest_recorded_once(site: TrackedSite, client: Client) -> None:
    # Given a batch holding a row the worker cannot read (written by an older version, say) between good ones
    aid = visitor_id()
    send(client, aid, [page(f"{SITE}/a")])
    first = StagedEvent.objects.get()
    bad = StagedEvent.objects.create(kind="page", anonymous_id=aid, origin=SITE, at=first.at,
                                     received_at=first.received_at, payload={"title": "no url"})  # fmt: skip
    send(client, aid, [page(f"{SITE}/b")])
    # When the worker runs: the batch fails, is rolled back, and is retried row by row
    tracking.process_staged_events()
    # Then the good views are recorded exactly once and the bad row stays, counted, with its error
    contact = Contact.objects.get(identities__value=aid)
    assert sorted(contact.events.values_list("data__url", flat=True)) == [f"{SITE}/a", f"{SITE}/b"]
    bad.refresh_from_db()
    assert (bad.attempts, "KeyError" in bad.last_error) == (1, True)
    assert list(StagedEvent.objects.values_list("pk", flat=True)) == [bad.pk]
    # After the maximum attempts it is no longer claimed, and shown as failed
    for _ in range(tracking.MAX_ATTEMPTS - 1):
        tracking.process_staged_events()
    assert tracking.pending_counts() == {"waiting": 0, "failed": 1}
    assert tracking.process_staged_events() is False
    assert tracking.retry_failed() == 1


def test_the_lead_inbox_lists_visitors_only_when_asked(site: TrackedSite, client: Client, admin_client: Client) -> None:
    # Given an anonymous visitor and a lead
    aid = visitor_id()
    visit(client, aid)
    link = f"/contacts/{Contact.objects.get(identities__value=aid).pk}/"
    capture_lead(parse_lead({"full_name": "Phạm Hà", "phone": "0933333333"}), event_type=Event.Type.API_CAPTURED)
    # Then the inbox lists the lead; the Anonymous stage filter lists the visitor
    leads = admin_client.get("/").content.decode()
    visitors = admin_client.get("/", {"stage": "anonymous"}).content.decode()
    assert "Phạm Hà" in leads and link not in leads
    assert link in visitors and "Phạm Hà" not in visitors


def test_an_undone_stitch_is_not_made_again(site: TrackedSite, lead_form: LeadForm, client: Client) -> None:
    # Given a visitor stitched to a known contact, and the merge undone by someone who knows better
    known = capture_lead(parse_lead({"full_name": "Nguyễn Văn An", "phone": "0912345678"}),
                         event_type=Event.Type.API_CAPTURED)  # fmt: skip
    aid = visitor_id()
    visit(client, aid)
    submit(client, aid)
    unmerge(Merge.objects.get(), actor=None)
    # When the same browser submits the form again
    response = submit(client, aid)
    # Then the submission is taken on the known contact, and the two stay apart
    assert response.status_code == 200
    assert Merge.objects.filter(undone_at__isnull=True).count() == 0
    assert Contact.objects.get(pk=known.contact_id).events.filter(type=Event.Type.FORM_SUBMITTED).count() == 2
    assert Contact.objects.filter(merged_into__isnull=True).count() == 2


def test_page_view_points_do_not_make_a_visitor_a_lead(site: TrackedSite, client: Client) -> None:
    # Given the starter rule engagement ≥ 50 → MQL, and 30 points per page view
    install_starter_rules()
    save_points_rule(None, {"name": "Xem trang", "kind": "behaviour", "event_type": "page_viewed", "points": 30},
                     actor=None)  # fmt: skip
    # When an anonymous visitor views two pages (60 points)
    aid = visitor_id()
    visit(client, aid)
    # Then they keep their points but stay anonymous; a known lead with as many points moves to MQL
    visitor = Contact.objects.get(identities__value=aid)
    assert (round(visitor.engagement_score), visitor.stage.key) == (60, "anonymous")
    send(client, aid, [{"type": "identify", "ts": 1_000_000, "traits": {"phone": "0911111111"}}])
    tracking.process_staged_events()
    visitor.refresh_from_db()
    assert visitor.stage.key == "mql"
