"""In Chromium: define a segment, preview its count with HTMX, save it and see its members."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.contacts.actions import EventInput, record_events
from nurture.segments.tests.helpers import WEBINAR_NOT_CUSTOMER, capture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_define_preview_and_save_a_segment(live_server: Any, page: Page) -> None:
    # Given a manager and two contacts, one of whom attended the webinar
    User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.MANAGER, first_name="Lan")
    attended = capture(full_name="Nguyễn Văn An", phone="0912345678")
    capture(full_name="Trần Thị Bình", phone="0912345679")
    record_events([EventInput(contact_id=attended.pk, type="webinar_attended")])

    # When she opens Segments, writes the condition and asks for the count
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    page.locator("header nav a[href='/segments/']").click()
    page.locator("a.button[href='/segments/new']").click()
    page.locator("#id_name").fill("Webinar, chưa là khách hàng")
    page.locator("#id_conditions_json").fill(json.dumps(WEBINAR_NOT_CUSTOMER))
    page.locator("button[hx-post='/segments/preview']").click()

    # Then the live count shows without leaving the page, and saving lists the member
    expect(page.locator("#count-preview .count")).to_have_text("1")
    page.locator("#segment-form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Webinar, chưa là khách hàng")
    expect(page.locator("#members tbody tr")).to_have_count(1)
    expect(page.locator("#members")).to_contain_text("Nguyễn Văn An")
