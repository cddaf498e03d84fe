"""In Chromium: a rep on her leads page is told of a new lead at once, opens it and logs the call in two clicks."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.availability.actions import save_business_hours
from nurture.conftest import log_in
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.routing import actions
from nurture.routing.models import Assignment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_gets_the_notice_and_logs_the_call(live_server: Any, page: Page) -> None:
    # Given a rep who takes every lead, at any hour, within a 5-minute response SLA
    always = {str(day): [["00:00", "24:00"]] for day in range(7)}
    save_business_hours(weekly=always, use_official_holidays=False, actor=None)
    rep = User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.SALES_REP)
    actions.save_rule(None, {"name": "All leads", "strategy": "round_robin"}, [(rep, 1)])
    actions.save_policy(None, {"name": "5 minutes", "first_response_minutes": 5, "remind_before_minutes": 2,
                               "reclaim_after_minutes": None, "escalate": True, "business_hours": True})  # fmt: skip
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    page.goto(f"{live_server.url}/leads/mine")
    expect(page.locator("#notification-count")).to_have_count(0)
    page.evaluate("window.notReloaded = true")

    # When a lead comes in from a Facebook form
    lead = {"full_name": "Trần Thị Hương", "phone": "0912 345 678", "source": "facebook", "need": "Khóa IELTS"}
    result = capture_leads([parse_lead(lead)], event_type=Event.Type.FORM_SUBMITTED, source_label="form")[0]
    contact = Contact.objects.get(pk=result.contact_id)
    assert contact.owner == rep

    # Then the bell counts it within seconds, without a reload, and the notice opens the lead
    expect(page.locator("#notification-count")).to_have_text("1", timeout=8_000)
    assert page.evaluate("window.notReloaded") is True
    page.locator("#notification-bell").click()
    page.locator("#notifications strong", has_text="Trần Thị Hương").click()
    expect(page).to_have_url(f"{live_server.url}/contacts/{contact.pk}/")
    expect(page.locator("#sla-due")).to_be_visible()

    # When she logs the call: two clicks
    page.locator("summary[data-log=call]").click()
    page.get_by_role("button", name="Đã liên lạc được").click()

    # Then the call is on the timeline, the clock has stopped and the pending timers do nothing
    expect(page.locator("#routing")).to_contain_text("Phản hồi đầu tiên")
    assignment = Assignment.objects.get(contact=contact, is_current=True)
    assert assignment.first_response_at is not None
    assert Event.objects.filter(contact=contact, type=Event.Type.CALL_LOGGED, actor=rep).exists()
    assert assignment.due_at is not None
    assert actions.sla_step(assignment.pk, "breach") == "nothing"
