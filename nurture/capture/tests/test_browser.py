"""In Chromium: a rep clicks the lead's number; the phone app is asked to dial and the attempt is logged."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.contacts.actions import capture_lead
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_click_to_call_logs_the_outbound_attempt(live_server: Any, page: Page) -> None:
    # Given a rep's lead with a phone
    rep = User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.SALES_REP)
    result = capture_lead(parse_lead({"full_name": "Trần Thị Hương", "phone": "0912 345 678"}),
                          event_type=Event.Type.FORM_SUBMITTED)  # fmt: skip
    Contact.objects.filter(pk=result.contact_id).update(owner=rep)
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    page.goto(f"{live_server.url}/contacts/{result.contact_id}/")
    link = page.locator("#click-to-call")
    expect(link).to_have_attribute("href", "tel:+84912345678")

    # When she clicks the number, then the attempt is posted as the dialler opens
    with page.expect_response(lambda r: r.url.endswith(f"/contacts/{result.contact_id}/call")) as posted:
        link.click()
    assert posted.value.status == 200

    # And it is on the timeline, by her
    event = Event.objects.get(contact_id=result.contact_id, type=Event.Type.CALL_LOGGED)
    assert (event.actor, event.source, event.data["outcome"]) == (rep, "click-to-call", "attempted")
