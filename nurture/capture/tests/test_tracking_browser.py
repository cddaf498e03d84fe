"""In Chromium: the snippet on a site served from another origin records page views; the embedded form stitches
them to the lead, whose timeline shows what they read. Do Not Track and a consent-first site send nothing."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from nurture.accounts.models import User
from nurture.capture import tracking
from nurture.capture.actions import save_lead_form, save_tracked_site
from nurture.capture.models import LeadForm, StagedEvent, TrackedSite
from nurture.conftest import log_in
from nurture.contacts.models import Contact, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def collected(page: Page) -> Any:
    """Wait for a batch sent by fetch to be answered. Tests wait for this rather than poll the database:
    SQLite's in-memory test database refuses a write while another connection reads the table."""
    return page.context.expect_event("requestfinished", lambda r: r.url.endswith("/t/collect"))


def status(request: Any) -> int:
    response = request.value.response()
    return 0 if response is None else int(response.status)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def website(tmp_path: Path, live_server: Any) -> Iterator[str]:
    """A small business website on its own origin, with Nurture's snippet and an embedded Nurture form."""
    nurture = live_server.url
    head = f'<script src="{nurture}/t/nurture.js"></script>'
    (tmp_path / "ielts.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>Khóa IELTS</title>{head}</head>'
        '<body><h1>IELTS</h1><a id="fees" href="hoc-phi.html">Học phí</a></body></html>',
        encoding="utf-8",
    )
    (tmp_path / "hoc-phi.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>Học phí</title>{head}</head><body><h1>Học phí</h1>'
        f'<script src="{nurture}/f/hoc-thu/embed.js"></script></body></html>',
        encoding="utf-8",
    )
    (tmp_path / "consent.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>Consent</title><script src="{nurture}/t/nurture.js" '
        'data-consent="required"></script></head><body>ok</body></html>', encoding="utf-8")  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def lead_form(settings: Any) -> LeadForm:
    settings.NURTURE_FORM_MIN_SECONDS = 0
    return save_lead_form(
        LeadForm(name="Học thử", slug="hoc-thu", source="website", thank_you_message="Cảm ơn!"),
        fields=[{"key": "full_name", "label": "", "type": "text", "required": True, "custom": False},
                {"key": "phone", "label": "", "type": "tel", "required": True, "custom": False}],
        consent_texts={}, tags=[], user=None,
    )  # fmt: skip


def test_page_views_arrive_and_the_form_stitches_them(
    website: str, lead_form: LeadForm, page: Page, live_server: Any, admin_user: User
) -> None:
    # Given the website is allowed to send page views
    save_tracked_site(TrackedSite(), origin=website, require_consent=False)
    # When a visitor lands from a Facebook ad and goes on to the fees page (leaving the first page sends its view)
    page.goto(f"{website}/ielts.html?utm_source=facebook&utm_medium=cpc&utm_campaign=ielts-t3")
    page.locator("#fees").click()
    expect(page.locator("h1")).to_have_text("Học phí")
    time.sleep(1)  # the first view left with sendBeacon as the page was left, which Chromium reports to nobody
    with collected(page) as flushed:
        page.evaluate("nurture.flush()")
    # Then both views are accepted and staged, under a first-party visitor id cookie
    assert status(flushed) == 202
    assert StagedEvent.objects.count() == 2
    aid = next(c["value"] for c in page.context.cookies(website) if c["name"] == "_nurture_aid")
    views = list(StagedEvent.objects.order_by("at", "id"))
    assert {v.anonymous_id for v in views} == {aid}
    assert views[0].payload["utm"] == {"source": "facebook", "medium": "cpc", "campaign": "ielts-t3"}
    assert views[1].payload["title"] == "Học phí" and views[1].payload["referrer"].endswith("ielts-t3")
    # And the worker makes the visitor an anonymous contact
    tracking.process_staged_events()
    visitor = Contact.objects.get(identities__kind="anonymous", identities__value=aid)
    assert visitor.stage.key == "anonymous"

    # When the visitor fills in the embedded form
    form = page.frame_locator("iframe[data-nurture-form]")
    form.locator("input[name=full_name]").fill("Nguyễn Thị Mai")
    form.locator("input[name=phone]").fill("0912 345 678")
    form.locator("button[type=submit]").click()
    expect(form.locator("body")).to_contain_text("Cảm ơn!")
    # Then the visitor is the lead, with what they viewed before, from the ad
    lead = Contact.objects.get(pk=visitor.pk)
    assert (lead.full_name, lead.phone, lead.stage.key) == ("Nguyễn Thị Mai", "+84912345678", "lead")
    assert (lead.source, lead.campaign) == ("facebook", "ielts-t3")
    assert lead.events.filter(type=Event.Type.PAGE_VIEWED).count() == 2
    assert lead.events.filter(type=Event.Type.FORM_SUBMITTED).count() == 1
    # And their timeline shows the pages
    log_in(page, live_server.url, "admin", "pw-admin-123")
    page.goto(f"{live_server.url}/contacts/{lead.pk}/")
    expect(page.locator("#timeline")).to_contain_text("Khóa IELTS")
    expect(page.locator("#timeline")).to_contain_text("Học phí")


def test_do_not_track_sends_nothing(website: str, browser: Browser) -> None:
    save_tracked_site(TrackedSite(), origin=website, require_consent=False)
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    page = context.new_page()
    page.goto(f"{website}/ielts.html")
    page.evaluate("nurture.flush()")
    page.goto(f"{website}/hoc-phi.html")
    time.sleep(1)
    assert page.evaluate("nurture.anonymousId()") == ""
    assert StagedEvent.objects.count() == 0
    assert not [c for c in context.cookies(website) if c["name"].startswith("_nurture")]
    context.close()


def test_a_consent_first_site_sends_only_after_consent(website: str, page: Page) -> None:
    save_tracked_site(TrackedSite(), origin=website, require_consent=True)
    page.goto(f"{website}/consent.html")
    page.evaluate("nurture.flush()")
    time.sleep(1)
    assert StagedEvent.objects.count() == 0
    assert not [c for c in page.context.cookies(website) if c["name"] == "_nurture_aid"]
    with collected(page) as sent:
        page.evaluate("nurture.consent(true)")
    assert status(sent) == 202
    assert StagedEvent.objects.get().payload["title"] == "Consent"
