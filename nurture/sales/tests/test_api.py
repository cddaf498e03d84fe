"""The pipeline through the API: scoping, the board, conversion, moves (409 when stale), won / lost, tasks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.customers.models import Order
from nurture.sales.models import Deal, LostReason, Pipeline, Task
from nurture.sales.tests.conftest import deal_for, lead, logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1{url}", json.dumps(body), content_type="application/json")


def loc(response: Any) -> list[Any]:
    return response.json()["detail"][0]["loc"]


def test_reps_see_their_own_and_their_teams_deals_only(
    alice: User, bob: User, charlie: User, pipeline: Pipeline
) -> None:
    # Given a deal of alice's
    deal = deal_for(alice, pipeline)

    # Then bob (her team) reads it, charlie (another team) gets 404 and an empty list
    assert logged_in(bob).get(f"/api/v1/sales/deals/{deal.pk}").json()["title"] == "IELTS 6.5"
    assert logged_in(charlie).get(f"/api/v1/sales/deals/{deal.pk}").status_code == 404
    assert logged_in(charlie).get("/api/v1/sales/deals").json() == []
    board = logged_in(charlie).get(f"/api/v1/sales/pipelines/{pipeline.pk}/board").json()
    assert sum(c["count"] for c in board) == 0
    moved = post(logged_in(charlie), f"/sales/deals/{deal.pk}/move", {"stage_id": deal.stage_id, "version": 1})
    assert moved.status_code == 404


def test_the_board_counts_totals_and_weighted_totals_per_stage(alice: User, bob: User, pipeline: Pipeline) -> None:
    # Given two deals in Consult (10%) and one in USD
    deal_for(alice, pipeline, amount=20_000_000)
    deal_for(bob, pipeline, amount=15_000_000)
    deal_for(bob, pipeline, amount=1_000, currency="USD")

    # When the board is read, then filtered to bob
    board = logged_in(alice).get(f"/api/v1/sales/pipelines/{pipeline.pk}/board").json()
    only_bob = logged_in(alice).get(f"/api/v1/sales/pipelines/{pipeline.pk}/board?owner_id={bob.pk}").json()

    # Then per stage: count, totals per currency, weighted by the stage's probability
    consult = board[0]
    assert (consult["stage"], consult["count"], len(consult["deals"])) == ("Consult", 3, 3)
    assert consult["totals"] == {"VND": 35_000_000, "USD": 1_000}
    assert consult["weighted"] == {"VND": 3_500_000, "USD": 100}
    assert [c["count"] for c in board[1:]] == [0, 0, 0, 0]
    assert only_bob[0]["totals"] == {"VND": 15_000_000, "USD": 1_000}


def test_convert_move_won_through_the_api(api_key: str, admin_user: User, alice: User, pipeline: Pipeline) -> None:
    # Given a key with the sales scope and an SQL lead
    _key, raw = create_api_key(name="crm", scopes=["contacts:read", "sales:write"], created_by=admin_user)
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    contact = lead(alice, stage="sql")

    # When it is converted, moved with its next step, and won
    made = post(client, f"/sales/contacts/{contact.pk}/convert", {"amount": 12_000_000, "products": ["Giao tiếp"],
                                                                  "company_name": "ABC"})  # fmt: skip
    assert made.status_code == 201, made.content
    deal = made.json()
    quote = pipeline.stages.order_by("position")[1]
    step = {"title": "Gửi báo giá", "due_at": "2026-03-03T10:00:00+07:00", "remind_at": "2026-03-03T09:30:00+07:00"}
    moved = post(client, f"/sales/deals/{deal['id']}/move", {"stage_id": quote.pk, "version": 1, "next_step": step})
    assert moved.status_code == 200 and moved.json()["stage"] == "Quote" and moved.json()["version"] == 2
    won = post(client, f"/sales/deals/{deal['id']}/won", {"version": 2, "ordered_on": "2026-03-02"})

    # Then the deal is won, the order recorded, the contact a customer, the task listed
    assert won.status_code == 200 and won.json()["status"] == "won"
    assert Order.objects.get().amount == 12_000_000
    assert Contact.objects.get(pk=contact.pk).stage.key == "customer"
    tasks = client.get(f"/api/v1/sales/tasks?deal_id={deal['id']}").json()
    assert [(t["title"], t["remind_at"]) for t in tasks] == [("Gửi báo giá", "2026-03-03T02:30:00Z")]
    timeline = client.get(f"/api/v1/sales/deals/{deal['id']}/timeline").json()
    assert [e["type"] for e in timeline] == ["order_placed", "deal_won", "task_created", "deal_stage_changed",
                                             "deal_created"]  # fmt: skip


def test_bad_input_gets_clear_errors_and_writes_nothing(alice: User, pipeline: Pipeline) -> None:
    # Given a deal and a second pipeline
    client = logged_in(alice)
    deal = deal_for(alice, pipeline)
    other = post(logged_in(User.objects.create_superuser("root", "r@x.vn", "pw-root-123")), "/sales/pipelines",
                 {"name": "Corporate", "stages": [{"name": "Pitch", "probability": 20}]}).json()  # fmt: skip
    step = {"title": "Gọi", "due_at": "2026-03-03T10:00:00+07:00"}
    before = Event.objects.count()

    # When: another pipeline's stage, a negative amount, an invalid date, no next step, an unknown lost reason
    cross = post(client, f"/sales/deals/{deal.pk}/move",
                 {"stage_id": other["stages"][0]["id"], "version": 1, "next_step": step})  # fmt: skip
    negative = post(client, "/sales/deals", {"contact_id": deal.contact_id, "pipeline_id": pipeline.pk,
                                             "title": "x", "amount": -5})  # fmt: skip
    bad_date = post(client, "/sales/deals", {"contact_id": deal.contact_id, "pipeline_id": pipeline.pk,
                                             "title": "x", "expected_close": "2026-02-30"})  # fmt: skip
    no_step = post(client, f"/sales/deals/{deal.pk}/move", {"stage_id": pipeline.stages.order_by("position")[1].pk,
                                                            "version": 1})  # fmt: skip
    reason = post(client, f"/sales/deals/{deal.pk}/lost", {"version": 1, "reason_id": 9999})
    rep_pipeline = post(client, "/sales/pipelines", {"name": "Mine", "stages": [{"name": "A"}]})

    # Then each names its field, and nothing was written
    assert (cross.status_code, loc(cross)) == (422, ["body", "stage_id"])
    assert (negative.status_code, loc(negative)[-1]) == (422, "amount")
    assert (bad_date.status_code, loc(bad_date)[-1]) == (422, "expected_close")
    assert (no_step.status_code, loc(no_step)) == (422, ["body", "next_step"])
    assert (reason.status_code, loc(reason)) == (422, ["body", "reason_id"])
    assert rep_pipeline.status_code == 403
    assert Event.objects.count() == before and Deal.objects.count() == 1 and not Task.objects.exists()
    assert Deal.objects.get().version == 1


def test_a_stale_move_is_409_with_the_current_state(alice: User, bob: User, pipeline: Pipeline) -> None:
    # Given bob moved the deal after alice read it
    deal = deal_for(alice, pipeline)
    stages = list(pipeline.stages.order_by("position"))
    step = {"title": "Gọi", "due_at": "2026-03-03T10:00:00+07:00"}
    assert post(logged_in(bob), f"/sales/deals/{deal.pk}/move",
                {"stage_id": stages[2].pk, "version": 1, "next_step": step}).status_code == 200  # fmt: skip

    # When alice moves it from her stale version
    stale = post(logged_in(alice), f"/sales/deals/{deal.pk}/move",
                 {"stage_id": stages[1].pk, "version": 1, "next_step": step})  # fmt: skip

    # Then 409 with the deal as it is now; bob's move stands
    assert stale.status_code == 409
    assert (stale.json()["deal"]["stage"], stale.json()["deal"]["version"]) == ("Demo", 2)
    assert Deal.objects.get().stage == stages[2]


def test_lost_activities_and_orders_through_the_api(alice: User, pipeline: Pipeline) -> None:
    # Given a deal
    client = logged_in(alice)
    deal = deal_for(alice, pipeline)

    # When a Facebook message is logged on it, then it is lost with a reason, then an order recorded for the contact
    logged = post(client, f"/sales/contacts/{deal.contact_id}/sales-activities",
                  {"kind": "facebook", "body": "Hỏi giá", "deal_id": deal.pk})  # fmt: skip
    wrong = post(client, f"/sales/contacts/{deal.contact_id}/sales-activities", {"kind": "fax"})
    reason = LostReason.objects.first()
    lost = post(client, f"/sales/deals/{deal.pk}/lost", {"version": 1, "reason_id": reason.pk})  # type: ignore[union-attr]
    order = post(client, "/orders", {"contact_id": deal.contact_id, "amount": 500_000, "products": ["Sách"]})
    negative = post(client, "/orders", {"contact_id": deal.contact_id, "amount": -1})

    # Then
    assert logged.status_code == 201 and logged.json()["data"]["channel"] == "facebook"
    assert (wrong.status_code, loc(wrong)) == (422, ["body", "kind"])
    assert lost.status_code == 200 and lost.json()["lost_reason_id"] == reason.pk  # type: ignore[union-attr]
    assert order.status_code == 201 and order.json()["amount"] == 500_000
    assert (negative.status_code, loc(negative)[-1]) == (422, "amount")
    assert [o["amount"] for o in client.get("/api/v1/orders").json()] == [500_000]
