"""The review queue in Chromium: the counter, the side-by-side screen, a manual choice, the undo."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_review_merge_and_undo(live_server: Any, page: Page) -> None:
    User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.MANAGER, first_name="Lan")
    for fields in ({"full_name": "Đỗ Minh Khoa", "email": "khoa.do@abc.vn"},
                   {"full_name": "Do Minh Khoa", "email": "khoado@gmail.com", "province": "Hà Nội"}):  # fmt: skip
        capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED)
    older, newer = Contact.objects.order_by("pk")

    log_in(page, live_server.url, "lan", "pw-lan-12345")
    expect(page.locator("#duplicates-count")).to_have_text("1")
    page.locator("#duplicates-count").click()
    page.get_by_role("link", name="Xem xét").click()
    # Keep the newer record but the name with diacritics of the older one
    page.locator(f"input[name=survivor][value='{newer.pk}']").check()
    page.locator(f"input[name=keep_full_name][value='{older.pk}']").check()
    page.get_by_role("button", name="Gộp", exact=True).click()

    expect(page.locator("#duplicates-count")).to_have_count(0)
    page.goto(f"{live_server.url}/contacts/{older.pk}/")  # the tombstone redirects
    expect(page.locator("h1")).to_contain_text("Đỗ Minh Khoa")
    expect(page.locator("h1")).to_contain_text(f"#{newer.pk}")
    page.get_by_role("button", name="Hoàn tác lần gộp này").click()
    expect(page.locator(".messages")).to_contain_text("Đỗ Minh Khoa")
    assert Contact.objects.get(pk=older.pk).merged_into_id is None
