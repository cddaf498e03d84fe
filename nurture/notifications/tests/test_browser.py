"""In Chromium: the bell's counter changes by itself when a notice arrives, and opening it reads it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.notifications.actions import lead_title, notify
from nurture.notifications.models import Notification
from nurture.notifications.tests.conftest import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_bell_counts_a_new_notice_without_a_reload(live_server: Any, page: Page) -> None:
    # Given a sales rep sitting on her leads page, with nothing unread
    rep = User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.SALES_REP)
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    expect(page.locator("#notification-bell")).to_be_visible()
    expect(page.locator("#notification-count")).to_have_count(0)
    page.evaluate("window.notReloaded = true")

    # When a lead is routed to her
    lead = make_lead(rep)
    notify(rep, kind="new_lead", title=lead_title(lead), contact=lead)

    # Then within a few seconds the bell shows it, on the same page
    expect(page.locator("#notification-count")).to_have_text("1", timeout=8_000)
    assert page.evaluate("window.notReloaded") is True

    # When she opens the list and the notice
    page.locator("#notification-bell").click()
    expect(page.locator("#notifications strong")).to_have_text("Lead mới: Nguyễn Văn An (Facebook, nóng)")
    page.locator("#notifications strong").click()

    # Then she is on the lead's page, the notice is read and the bell is empty
    expect(page).to_have_url(f"{live_server.url}/contacts/{lead.pk}/")
    expect(page.locator("#notification-count")).to_have_count(0)
    assert Notification.objects.get().read_at is not None
