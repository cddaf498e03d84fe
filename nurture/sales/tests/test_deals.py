"""Deals: conversion, moves with their next step, stale versions, won with its order, lost with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from nurture.accounts.models import User
from nurture.contacts.models import Company, Contact, Event
from nurture.core import clock
from nurture.core.models import Job
from nurture.customers.models import Order
from nurture.journeys.actions import publish, save_journey
from nurture.journeys.models import Enrolment
from nurture.journeys.tests.conftest import graph
from nurture.sales import actions
from nurture.sales.models import Deal, LostReason, Pipeline, PipelineStage, Task
from nurture.sales.tests.conftest import deal_for, lead

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def stage(pipeline: Pipeline, position: int) -> PipelineStage:
    return pipeline.stages.order_by("position")[position]


def test_the_seed_pipeline_ships_as_the_preset(pipeline: Pipeline) -> None:
    # Given a fresh install / When the presets are installed twice
    again = actions.install_presets()

    # Then one pipeline, consult → quote → demo → negotiate → close, each with its probability and rotting limit
    assert again == pipeline and Pipeline.objects.count() == 1
    stages = [(s.name_en, s.probability, s.rotting_days) for s in pipeline.stages.order_by("position")]
    assert stages == [("Consult", 10, 7), ("Quote", 30, 7), ("Demo", 50, 10), ("Negotiate", 70, 10), ("Close", 90, 5)]
    assert LostReason.objects.filter(is_active=True).count() == 5


def test_converting_a_qualified_lead_makes_the_deal_and_company_and_moves_it_to_sqo(
    alice: User, pipeline: Pipeline
) -> None:
    # Given a sales-qualified lead from a Facebook campaign, without a company
    contact = lead(alice, stage="sql")

    # When alice converts it
    deal = actions.convert_lead(
        contact, pipeline=pipeline, title="IELTS 6.5", company_name="Công ty ABC", amount=25_000_000,
        products=["IELTS"], expected_close=date(2026, 3, 31), actor=alice,
    )  # fmt: skip

    # Then the deal is in the first stage with the lead's attribution, the company exists, the lead is an SQO
    contact.refresh_from_db()
    assert (deal.stage.name_en, deal.owner, deal.amount, deal.currency) == ("Consult", alice, 25_000_000, "VND")
    assert (deal.source, deal.campaign, deal.products) == ("facebook", "ielts-tet", ["IELTS"])
    assert Company.objects.get().name == "Công ty ABC" and contact.company == deal.company
    assert contact.stage.key == "sqo"
    created = Event.objects.get(type=Event.Type.DEAL_CREATED)
    assert (created.contact_id, created.deal_id, created.data["amount"]) == (contact.pk, deal.pk, 25_000_000)


def test_a_lead_not_yet_qualified_is_not_converted(alice: User, pipeline: Pipeline) -> None:
    # Given a lead still in the Lead stage
    contact = lead(alice)

    # When it is converted / Then it is refused, naming the contact, and nothing is written
    with pytest.raises(actions.SalesError) as refused:
        actions.convert_lead(contact, pipeline=pipeline, company_name="ABC", actor=alice)
    assert refused.value.field == "contact_id"
    assert not Deal.objects.exists() and not Company.objects.exists()


def test_a_move_needs_its_next_step_which_becomes_a_task_with_its_reminder(alice: User, pipeline: Pipeline) -> None:
    # Given a deal in Consult, in a pipeline that requires a next step
    deal = deal_for(alice, pipeline)
    quote = stage(pipeline, 1)

    # When it is moved without a next step / Then it is refused and stays
    with pytest.raises(actions.SalesError) as refused:
        actions.move_deal(deal, stage=quote, version=deal.version, actor=alice)
    assert refused.value.field == "next_step"
    assert Deal.objects.get(pk=deal.pk).stage == stage(pipeline, 0)

    # When it is moved with one
    due = clock.now() + timedelta(days=1)
    step = actions.NextStep("Gửi báo giá", due, remind_at=due - timedelta(minutes=15))
    moved = actions.move_deal(deal, stage=quote, version=deal.version, actor=alice, next_step=step)

    # Then it is in Quote, version bumped, the move is on the timelines, and the task has its two timers
    assert (moved.stage, moved.version) == (quote, 2)
    event = Event.objects.get(type=Event.Type.DEAL_STAGE_CHANGED)
    assert (event.deal_id, event.contact_id, event.data["from"], event.data["to"]) == (
        deal.pk, deal.contact_id, "Consult", "Quote")  # fmt: skip
    task = Task.objects.get()
    assert (task.title, task.deal, task.contact_id, task.assignee) == ("Gửi báo giá", moved, deal.contact_id, alice)
    jobs = sorted(Job.objects.filter(kind__startswith="sales.task").values_list("kind", "due_at"))
    assert jobs == [("sales.task_due", due), ("sales.task_remind", due - timedelta(minutes=15))]


def test_a_stage_of_another_pipeline_is_refused(alice: User, pipeline: Pipeline) -> None:
    # Given a second pipeline and a deal in the first
    other = actions.save_pipeline(None, name_en="Corporate", stages=[actions.StageInput("Pitch", "", 20)])
    deal = deal_for(alice, pipeline)

    # When it is moved to the other pipeline's stage / Then it is refused naming the stage
    with pytest.raises(actions.SalesError) as refused:
        actions.move_deal(deal, stage=other.stages.get(), version=deal.version, actor=alice,
                          next_step=actions.NextStep("x", clock.now()))  # fmt: skip
    assert refused.value.field == "stage_id"
    assert Deal.objects.get(pk=deal.pk).stage.pipeline == pipeline and not Task.objects.exists()


def test_a_stale_version_is_refused_and_nothing_is_overwritten(alice: User, bob: User, pipeline: Pipeline) -> None:
    # Given a board alice read at version 1, then bob moved the card to Demo
    deal = deal_for(alice, pipeline)
    step = actions.NextStep("Gọi lại", clock.now() + timedelta(hours=2))
    actions.move_deal(deal, stage=stage(pipeline, 2), version=1, actor=bob, next_step=step)

    # When alice drops the card on Quote with her stale version
    with pytest.raises(actions.StaleDeal) as stale:
        actions.move_deal(deal, stage=stage(pipeline, 1), version=1, actor=alice, next_step=step)

    # Then it is refused with the current state, and bob's move stands
    assert stale.value.deal.stage == stage(pipeline, 2) and stale.value.deal.version == 2
    assert Deal.objects.get(pk=deal.pk).stage == stage(pipeline, 2)
    assert Event.objects.filter(type=Event.Type.DEAL_STAGE_CHANGED).count() == 1
    assert Task.objects.count() == 1


def test_negative_amounts_and_bad_currencies_are_refused(alice: User, pipeline: Pipeline) -> None:
    # Given a qualified lead
    contact = lead(alice, stage="sql")

    # When a deal is made with a negative amount, or changed to a bad currency / Then refused, naming the field
    with pytest.raises(actions.SalesError) as negative:
        actions.create_deal(contact, pipeline=pipeline, title="x", amount=-1, actor=alice)
    assert negative.value.field == "amount"
    deal = actions.create_deal(contact, pipeline=pipeline, title="x", amount=1, actor=alice)
    with pytest.raises(actions.SalesError) as currency:
        actions.update_deal(deal, version=deal.version, changes={"currency": "dong"}, actor=alice)
    assert currency.value.field == "currency"
    assert Deal.objects.get().currency == "VND"


def test_won_records_the_order_and_makes_a_customer(alice: User, pipeline: Pipeline) -> None:
    # Given an open deal of 25 million đồng for IELTS
    deal = deal_for(alice, pipeline, amount=25_000_000, products=["IELTS 6.5"])

    # When it is won
    won, order = actions.mark_won(deal, version=deal.version, actor=alice)

    # Then the order is recorded, the order_placed event carries the agreed data, and the contact is a Customer
    assert (won.status, order.amount, order.products, order.deal) == ("won", 25_000_000, ["IELTS 6.5"], won)
    assert order.ordered_on == date(2026, 3, 2)
    placed = Event.objects.get(type=Event.Type.ORDER_PLACED)
    assert placed.data == {"order_id": order.pk, "deal_id": deal.pk, "amount": 25_000_000, "currency": "VND",
                           "products": ["IELTS 6.5"]}  # fmt: skip
    assert Contact.objects.get(pk=deal.contact_id).stage.key == "customer"

    # When the customer buys again through a second deal / Then a repeat customer
    again = actions.create_deal(deal.contact, pipeline=pipeline, title="Giao tiếp", amount=9_000_000, actor=alice)
    actions.mark_won(again, version=again.version, actor=alice, amount=8_500_000)
    assert Contact.objects.get(pk=deal.contact_id).stage.key == "repeat_customer"
    assert list(Order.objects.order_by("id").values_list("amount", flat=True)) == [25_000_000, 8_500_000]

    # When a closed deal is won again / Then refused
    with pytest.raises(actions.SalesError):
        actions.mark_won(won, version=won.version, actor=alice)


@pytest.mark.parametrize("to_nurturing, final", [(True, "mql"), (False, "lost")])
def test_lost_records_the_reason_and_returns_the_contact_to_nurturing_by_setting(
    alice: User, pipeline: Pipeline, settings: Any, to_nurturing: bool, final: str
) -> None:
    # Given an open deal and the setting
    settings.NURTURE_SALES_LOST_TO_NURTURING = to_nurturing
    deal = deal_for(alice, pipeline)
    reason = LostReason.objects.get(name_en="Price too high")

    # When it is lost
    lost = actions.mark_lost(deal, version=deal.version, reason=reason, note="So với bên khác", actor=alice)

    # Then the reason is recorded, the contact went to Lost, then back to nurturing when set
    assert (lost.status, lost.lost_reason, lost.lost_note) == ("lost", reason, "So với bên khác")
    assert Event.objects.get(type=Event.Type.DEAL_LOST).data["reason"] == "Price too high"
    assert Contact.objects.get(pk=deal.contact_id).stage.key == final
    assert not Order.objects.exists()


def test_activities_are_on_the_contact_and_the_deal_timelines(alice: User, pipeline: Pipeline) -> None:
    # Given a deal and another lead
    deal = deal_for(alice, pipeline)
    other = lead(alice)

    # When a Zalo message, a note and a call are logged on the deal, and a call on the contact alone
    actions.log_activity(deal.contact, kind="zalo", body="Đã gửi lịch học", deal=deal, actor=alice)
    actions.log_activity(deal.contact, kind="note", body="Phụ huynh quyết định", deal=deal, actor=alice)
    actions.log_activity(deal.contact, kind="call", outcome="no_answer", actor=alice)

    # Then the contact's timeline has all of them, the deal's only its own
    logged = Event.objects.filter(contact=deal.contact, type__in=["message_logged", "note_added", "call_logged"])
    assert sorted(logged.values_list("type", "deal_id")) == [
        ("call_logged", None),
        ("message_logged", deal.pk),
        ("note_added", deal.pk),
    ]
    assert Event.objects.get(type="message_logged").data == {"outcome": "sent", "body": "Đã gửi lịch học",
                                                            "channel": "zalo"}  # fmt: skip
    assert Event.objects.filter(deal=deal).count() == 3  # created, the message, the note

    # When an activity names the deal of another contact / Then refused
    with pytest.raises(actions.SalesError) as refused:
        actions.log_activity(other, kind="call", deal=deal, actor=alice)
    assert refused.value.field == "deal_id"


def test_the_order_of_a_won_deal_starts_a_journey(alice: User, pipeline: Pipeline) -> None:
    # Given an onboarding journey started by a purchase
    journey = save_journey(None, {"name": "Chào mừng học viên", "graph": graph(("t", {"type": "add_tag", "tag": "hv"})),
                                  "trigger": {"type": "event", "event": "order_placed"}}, actor=None)  # fmt: skip
    publish(journey, actor=None)
    deal = deal_for(alice, pipeline)

    # When the deal is won / Then the buyer is enrolled, inside the same transaction
    actions.mark_won(deal, version=deal.version, actor=alice)
    assert list(Enrolment.objects.values_list("contact_id", "journey_id")) == [(deal.contact_id, journey.pk)]
