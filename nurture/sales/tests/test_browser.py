"""In Chromium: a rep drags a deal to the next stage, gives its next step, and the reminder reaches her bell."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from nurture.accounts.models import User
from nurture.conftest import log_in
from nurture.core.jobs import process_due_jobs
from nurture.sales import actions
from nurture.sales.models import Deal, Task
from nurture.sales.tests.conftest import deal_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_drag_a_deal_set_the_next_step_and_get_the_reminder(live_server: Any, page: Page) -> None:
    # Given a rep's deal in Consult, on a board that requires a next step
    rep = User.objects.create_user(username="lan", password="pw-lan-12345", role=User.Role.SALES_REP)
    pipeline = actions.install_presets()
    deal = deal_for(rep, pipeline)
    consult, quote, demo = list(pipeline.stages.order_by("position"))[:3]
    log_in(page, live_server.url, "lan", "pw-lan-12345")
    page.goto(f"{live_server.url}/sales/pipelines/{pipeline.pk}/")
    card = page.locator(f'.deal-card[data-deal="{deal.pk}"]')
    expect(page.locator(f"#stage-{consult.pk}")).to_contain_text("IELTS 6.5")

    # When she drags the card onto Quote
    card.drag_to(page.locator(f"#stage-{quote.pk}"))

    # Then the board asks for the next step, and the deal has not moved yet
    dialog = page.locator("#next-step")
    expect(dialog).to_be_visible()
    assert Deal.objects.get().stage == consult

    # When she gives it: call back in 10 minutes, reminded 15 minutes before (so at once)
    due = timezone.localtime(timezone.now() + timedelta(minutes=10))
    expect(page.locator("#id_next-title")).to_be_focused()
    page.locator("#id_next-title").fill("Gọi lại báo giá")
    page.locator("#id_next-due_at").fill(due.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_next-remind").select_option("15")
    dialog.locator("button[type=submit]").click()

    # Then the card sits in Quote with its next step
    expect(page.locator(f"#stage-{quote.pk} .deal-card")).to_contain_text("Gọi lại báo giá")
    expect(page.locator("#next-step")).to_have_count(0)
    assert Deal.objects.get().stage == quote and Task.objects.get().remind_at is not None

    # When the worker runs the due reminder / Then it appears under her bell
    assert process_due_jobs()
    expect(page.locator("#notification-count")).to_have_text("1", timeout=8_000)
    page.locator("#notification-bell").click()
    expect(page.locator("#notifications")).to_contain_text("Gọi lại báo giá")

    # When she moves the card on with the keyboard (→) / Then the next step is asked for again
    page.goto(f"{live_server.url}/sales/pipelines/{pipeline.pk}/")
    page.locator(f'.deal-card[data-deal="{deal.pk}"]').focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#next-step")).to_contain_text(str(demo.name))
