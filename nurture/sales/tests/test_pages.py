"""The board (htmx moves, the next-step dialog, a stale card), the deal page, conversion and the lead page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.sales import actions
from nurture.sales.models import Deal, LostReason, Pipeline, Task
from nurture.sales.tests.conftest import deal_for, lead, logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]
HTMX = {"HX-Request": "true"}


def test_the_board_shows_stages_with_count_total_and_weighted(alice: User, bob: User, pipeline: Pipeline) -> None:
    # Given two deals in Consult
    deal_for(alice, pipeline, amount=20_000_000)
    deal_for(bob, pipeline, amount=10_000_000)

    # When alice opens the board
    page = logged_in(alice).get(f"/sales/pipelines/{pipeline.pk}/").content.decode()

    # Then Consult shows 2 deals, 30.000.000 ₫ and 3.000.000 ₫ weighted; every card is draggable and movable by keys
    consult = page.split('class="board-column"')[1]
    assert '<span class="badge grey stage-count">2</span>' in consult
    assert "Total 30.000.000 ₫" in consult and "Weighted 3.000.000 ₫" in consult
    assert consult.count('draggable="true"') == 2 and consult.count('name="stage"') == 2


def test_a_card_shows_its_contact_amount_owner_and_next_step(alice: User, bob: User, pipeline: Pipeline) -> None:
    # Given bob's deal with a call due yesterday, and alice's deal with no open task
    late = deal_for(bob, pipeline, amount=15_000_000)
    actions.add_task(title="Gọi lại <báo giá>", due_at=clock.now() - timedelta(days=1), assignee=bob, deal=late)
    deal_for(alice, pipeline, amount=0)
    User.objects.filter(pk=bob.pk).update(first_name="Bình", last_name="Lê")

    # When alice opens the board
    page = logged_in(alice).get(f"/sales/pipelines/{pipeline.pk}/").content.decode()

    # Then (newest first) bob's card names the contact, amount, bob and the overdue call, escaped; alice's has none
    other_card, late_card = (c.split("</article>")[0] for c in page.split('<article class="deal-card')[1:])
    assert "Trần Thị Hương · 15.000.000 ₫" in late_card and "Bình Lê" in late_card
    assert 'next-step overdue">→ Gọi lại &lt;báo giá&gt;' in late_card
    assert alice.username in other_card and "No next step" in other_card


def test_a_move_asks_for_the_next_step_then_moves(alice: User, pipeline: Pipeline) -> None:
    # Given a deal on the board
    deal = deal_for(alice, pipeline)
    quote = pipeline.stages.order_by("position")[1]
    client = logged_in(alice)

    # When the card is dropped on Quote
    asked = client.post(f"/sales/deals/{deal.pk}/move", {"stage": quote.pk, "version": 1}, headers=HTMX)

    # Then the board comes back with the next-step dialog, and the deal has not moved
    assert asked.status_code == 422
    assert 'id="next-step"' in asked.content.decode() and Deal.objects.get().stage != quote

    # When the next step is given, with a bad date first
    bad_step = {"stage": quote.pk, "version": 1, "next-title": "Gửi báo giá", "next-due_at": "2026-02-30T10:00"}
    bad = client.post(f"/sales/deals/{deal.pk}/move", {**bad_step, "next-kind": "call"}, headers=HTMX)
    assert bad.status_code == 422 and "Enter a valid date/time." in bad.content.decode()
    moved = client.post(f"/sales/deals/{deal.pk}/move", {
        "stage": quote.pk, "version": 1, "next-title": "Gửi báo giá", "next-due_at": "2026-03-03T10:00",
        "next-kind": "email", "next-remind": "60",
    }, headers=HTMX)  # fmt: skip

    # Then the card is in Quote with its next step, and the task reminds an hour before
    assert moved.status_code == 200
    quote_column = moved.content.decode().split(f'id="stage-{quote.pk}"')[1].split("</section>")[0]
    assert "IELTS 6.5" in quote_column and "→ Gửi báo giá · 10:00 03/03" in quote_column
    task = Task.objects.get()
    assert (task.kind, task.remind_at.isoformat()) == ("email", "2026-03-03T02:00:00+00:00")  # type: ignore[union-attr]


def test_a_stale_card_is_refused_and_the_board_shows_the_current_state(
    alice: User, bob: User, pipeline: Pipeline
) -> None:
    # Given alice's board shows the deal at version 1, then bob moved it to Demo
    deal = deal_for(alice, pipeline)
    stages = list(pipeline.stages.order_by("position"))
    step = {"next-title": "Gọi", "next-due_at": "2026-03-03T10:00", "next-kind": "call"}
    assert logged_in(bob).post(f"/sales/deals/{deal.pk}/move", {"stage": stages[2].pk, "version": 1, **step},
                               headers=HTMX).status_code == 200  # fmt: skip

    # When alice drops her stale card on Quote
    stale = logged_in(alice).post(f"/sales/deals/{deal.pk}/move", {"stage": stages[1].pk, "version": 1, **step},
                                  headers=HTMX)  # fmt: skip

    # Then 409: a clear message and the card where bob put it, at its new version
    body = stale.content.decode()
    assert stale.status_code == 409
    assert "Someone else changed “IELTS 6.5” meanwhile (now in “Demo”)" in body
    demo = body.split(f'id="stage-{stages[2].pk}"')[1].split("</section>")[0]
    assert 'data-version="2"' in demo
    assert Deal.objects.get().stage == stages[2] and Task.objects.count() == 1


def test_board_filters_by_owner_and_date_and_name_a_bad_date(alice: User, bob: User, pipeline: Pipeline) -> None:
    deal_for(alice, pipeline, expected_close=None)
    bobs = deal_for(bob, pipeline)
    Deal.objects.filter(pk=bobs.pk).update(title="Bob's deal")
    client = logged_in(alice)
    only_bob = client.get(f"/sales/pipelines/{pipeline.pk}/?owner={bob.pk}").content.decode()
    assert "Bob&#x27;s deal" in only_bob and "IELTS 6.5" not in only_bob
    bad = client.get(f"/sales/pipelines/{pipeline.pk}/?close_from=2026-13-01").content.decode()
    assert "Enter a valid date." in bad


def test_convert_from_the_lead_page_and_see_the_deal_there(alice: User, pipeline: Pipeline) -> None:
    # Given an SQL lead's page
    contact = lead(alice, stage="sql")
    client = logged_in(alice)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'id="convert-lead"' in page

    # When the form is sent with a negative amount, then properly
    form = {"title": "IELTS", "pipeline": pipeline.pk, "amount": "-1", "currency": "VND", "company_name": "ABC"}
    refused = client.post(f"/contacts/{contact.pk}/convert", form)
    assert "An amount cannot be negative." in refused.content.decode() and not Deal.objects.exists()
    done = client.post(f"/contacts/{contact.pk}/convert", {**form, "amount": "15.000.000"})

    # Then the deal page opens; the lead page lists the deal and its event links to it
    deal = Deal.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/sales/deals/{deal.pk}/"
    assert deal.amount == 15_000_000 and Contact.objects.get(pk=contact.pk).stage.key == "sqo"
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'href="/sales/deals/{deal.pk}/"' in page and "15.000.000 ₫" in page


def test_quick_log_from_the_lead_page_lands_on_both_timelines(alice: User, pipeline: Pipeline) -> None:
    # Given a deal
    deal = deal_for(alice, pipeline)
    client = logged_in(alice)

    # When an SMS is logged from the lead page for the deal, and a call for the contact only
    client.post(f"/contacts/{deal.contact_id}/activities", {"kind": "sms", "body": "Nhắc lịch", "deal": deal.pk})
    client.post(f"/contacts/{deal.contact_id}/activities", {"kind": "call", "outcome": "busy"})

    # Then the deal page shows the SMS not the call; the lead page shows both
    deal_page = client.get(f"/sales/deals/{deal.pk}/").content.decode().split('id="timeline"')[1]
    lead_page = client.get(f"/contacts/{deal.contact_id}/").content.decode().split('id="timeline"')[1]
    assert "SMS · Sent: Nhắc lịch" in deal_page and "Busy, call back" not in deal_page
    assert "SMS · Sent: Nhắc lịch" in lead_page and "Busy, call back" in lead_page
    assert Event.objects.filter(deal=deal, type="message_logged").count() == 1


def test_won_and_lost_from_the_deal_page(alice: User, pipeline: Pipeline) -> None:
    won = deal_for(alice, pipeline)
    lost = deal_for(alice, pipeline)
    client = logged_in(alice)
    assert client.post(f"/sales/deals/{won.pk}/won", {"version": 1, "amount": "", "ordered_on": "2026-03-02"}
                       ).status_code == 302  # fmt: skip
    stale = client.post(f"/sales/deals/{lost.pk}/lost", {"version": 7, "reason": LostReason.objects.first().pk})  # type: ignore[union-attr]
    assert stale.status_code == 400 and "Someone else changed" in stale.content.decode()
    assert client.post(f"/sales/deals/{lost.pk}/lost", {"version": 1, "reason": LostReason.objects.first().pk}  # type: ignore[union-attr]
                       ).status_code == 302  # fmt: skip
    assert list(Deal.objects.order_by("id").values_list("status", flat=True)) == ["won", "lost"]
    page = client.get(f"/sales/deals/{lost.pk}/").content.decode()
    assert 'id="lost-reason"' in page
    orders = client.get(f"/contacts/{won.contact_id}/").content.decode().split('id="orders"')[1].split("</ul>")[0]
    assert "20.000.000 ₫" in orders and "02/03/2026" in orders


def test_outsiders_cannot_open_or_move_a_deal(charlie: User, alice: User, pipeline: Pipeline, settings: Any) -> None:
    deal = deal_for(alice, pipeline)
    client = logged_in(charlie)
    assert client.get(f"/sales/deals/{deal.pk}/").status_code == 404
    assert client.post(f"/sales/deals/{deal.pk}/move", {"stage": deal.stage_id, "version": 1}).status_code == 404
    assert "IELTS 6.5" not in client.get(f"/sales/pipelines/{pipeline.pk}/").content.decode()


def test_a_manager_adds_a_pipeline_and_reorders_its_stages(admin_user: User, alice: User, pipeline: Pipeline) -> None:
    # Given the settings page, closed to reps
    client = logged_in(admin_user)
    assert logged_in(alice).get("/sales/pipelines/settings").status_code == 403
    form = {"pipeline_name_en": "Corporate", "pipeline_name_vi": "Doanh nghiệp", "require_next_step": "on",
            "is_active": "on", "stage_id": ["", "", ""], "name_en": ["Pitch", "Contract", ""],
            "name_vi": ["Giới thiệu", "Hợp đồng", ""], "probability": ["20", "150", "0"],
            "rotting_days": ["14", "", ""]}  # fmt: skip

    # When a probability is out of range / Then refused with the row named, nothing saved
    refused = client.post("/sales/pipelines/new", form)
    assert "A probability is between 0 and 100" in refused.content.decode() and Pipeline.objects.count() == 1

    # When it is fixed, then the two stages swapped
    assert client.post("/sales/pipelines/new", {**form, "probability": ["20", "80", "0"]}).status_code == 302
    corporate = Pipeline.objects.get(name_en="Corporate")
    pitch, contract = corporate.stages.order_by("position")
    swapped = {
        **form, "stage_id": [str(contract.pk), str(pitch.pk)], "name_en": ["Contract", "Pitch"],
        "name_vi": ["Hợp đồng", "Giới thiệu"], "probability": ["80", "20"], "rotting_days": ["", "14"],
    }  # fmt: skip
    assert client.post(f"/sales/pipelines/{corporate.pk}/edit", swapped).status_code == 302

    # Then the stages keep their ids in the new order, and the board shows them
    assert list(corporate.stages.order_by("position").values_list("pk", "name_en", "rotting_days")) == [
        (contract.pk, "Contract", None), (pitch.pk, "Pitch", 14)]  # fmt: skip
    assert "Contract (80%) → Pitch (20%, 14d)" in client.get("/sales/pipelines/settings").content.decode()
