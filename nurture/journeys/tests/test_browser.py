"""In Chromium: a marketer starts from a ready-made journey, adds an A/B split in the step editor, and publishes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.journeys.models import Journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_adds_a_split_and_publishes(live_server: Any, page: Page, admin_user: User) -> None:
    # Given the journeys page, where she uses the onboarding template
    log_in(page, live_server.url, "admin", "pw-admin-123")
    page.goto(f"{live_server.url}/journeys/")
    page.locator("button[data-template=onboarding]").click()
    journey = Journey.objects.get(template_key="onboarding")
    expect(page).to_have_url(f"{live_server.url}/journeys/{journey.pk}/")
    # (arms that go back to the start, or on to the first wait: a loop with a wait in it)
    first = journey.graph["order"][0]
    wait = next(s for s in journey.graph["order"] if journey.graph["steps"][s]["type"] == "wait")

    # When she adds a step and picks the A/B split type
    page.locator(f"a[href='/journeys/{journey.pk}/steps/new']").click()
    template_row = page.locator("[data-for~=send_email]").filter(has=page.locator("[name=template]"))
    arm_row = page.locator("[data-for=split]").filter(has=page.locator("[name=arm0_name]"))
    page.locator("[name=type]").select_option("send_email")
    # Then only the settings of that type show: a template for an email, the arms for a split
    expect(template_row).to_be_visible()
    expect(arm_row).to_be_hidden()
    page.locator("[name=type]").select_option("split")
    expect(template_row).to_be_hidden()
    expect(arm_row).to_be_visible()

    # When she fills both arms and saves
    page.locator("[name=step_id]").fill("ab")
    page.locator("[name=arm0_name]").fill("A")
    page.locator("[name=arm0_percent]").fill("50")
    page.locator("[name=arm0_next]").select_option(first)
    page.locator("[name=arm1_name]").fill("B")
    page.locator("[name=arm1_percent]").fill("50")
    page.locator("[name=arm1_next]").select_option(wait)
    page.locator("#step-form button[type=submit]").click()

    # Then the flow diagram has the split, and publishing makes the journey live with it
    expect(page).to_have_url(f"{live_server.url}/journeys/{journey.pk}/")
    expect(page.locator("svg.flow [data-step=ab]")).to_be_visible()
    page.locator(f"form[action='/journeys/{journey.pk}/publish'] button").click()
    journey.refresh_from_db()
    assert journey.live_version is not None
    assert journey.live_version.graph["steps"]["ab"]["arms"][1] == {"name": "B", "percent": 50, "next": wait}
