"""End to end in Debian's Chromium: submit the hosted form, find the lead without diacritics, open its page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.capture.actions import save_lead_form
from nurture.capture.models import LeadForm
from nurture.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@override_settings(NURTURE_FORM_MIN_SECONDS=0)
def test_form_to_inbox_to_contact_page(live_server: Any, page: Page) -> None:
    # Given a marketer's form and a manager's account
    User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.MANAGER, first_name="Lan")
    save_lead_form(
        LeadForm(name="Học thử", slug="hoc-thu", source="website", thank_you_message="Tư vấn viên sẽ gọi lại ngay."),
        fields=[
            {"key": "full_name", "label": "Họ và tên", "type": "text", "required": True, "custom": False},
            {"key": "phone", "label": "Số điện thoại", "type": "tel", "required": True, "custom": False},
        ],
        consent_texts={"sms": "Đồng ý nhận SMS"},
        tags=[],
        user=None,
    )

    # When a visitor from a Facebook campaign fills the hosted form
    page.goto(f"{live_server.url}/f/hoc-thu?utm_source=facebook&utm_campaign=IELTS-thang-9")
    page.get_by_label("Họ và tên").fill("Nguyễn Văn An")
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_label("Đồng ý nhận SMS").check()
    page.get_by_role("button").click()
    expect(page.get_by_text("Tư vấn viên sẽ gọi lại ngay.")).to_be_visible()

    # And the manager logs in and searches without diacritics
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    page.get_by_role("searchbox").fill("nguyen van an")
    page.get_by_role("searchbox").press("Enter")

    # Then the lead is in the inbox with its source, and its 360 page shows what was captured
    row = page.locator("table.inbox tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("facebook")
    row.get_by_role("link", name="Nguyễn Văn An").click()
    expect(page.locator("h1")).to_contain_text("Nguyễn Văn An")
    expect(page.locator("body")).to_contain_text("+84912345678")
    expect(page.locator("body")).to_contain_text("IELTS-thang-9")
    expect(page.locator("#timeline")).to_contain_text("hoc-thu")
