"""Lost reasons edited by a manager: rename, reorder, deactivate, add, remove an unused one; through the page and
the API. A reason a deal was lost for is never deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.sales import actions
from nurture.sales.models import Deal, LostReason, Pipeline
from nurture.sales.tests.conftest import deal_for, logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def names() -> list[tuple[str, str, bool]]:
    return list(LostReason.objects.values_list("name_en", "name_vi", "is_active"))


def put(client: Client, body: dict[str, Any]) -> Any:
    return client.put("/api/v1/sales/lost-reasons", json.dumps(body), content_type="application/json")


def lose(deal: Deal, reason: LostReason, actor: User) -> None:
    actions.mark_lost(deal, version=deal.version, reason=reason, actor=actor)


def test_rename_reorder_deactivate_add_and_remove_an_unused_reason(pipeline: Pipeline) -> None:
    # Given the five presets
    competitor, price, no_need, unreachable, budget = LostReason.objects.all()

    # When price comes first, competitor is renamed, no need is stopped, budget is removed and one is added
    actions.save_lost_reasons([
        actions.LostReasonInput("Price too high", "Giá cao", id=price.pk),
        actions.LostReasonInput(" Went with a competitor ", "Chọn đối thủ khác", id=competitor.pk),
        actions.LostReasonInput("No need now", "Chưa có nhu cầu", is_active=False, id=no_need.pk),
        actions.LostReasonInput("Could not reach", "Không liên lạc được", id=unreachable.pk),
        actions.LostReasonInput("Bad timing"),
    ])  # fmt: skip

    # Then the list is in that order, the new one has its English name in Vietnamese too, budget is gone
    assert names() == [
        ("Price too high", "Giá cao", True), ("Went with a competitor", "Chọn đối thủ khác", True),
        ("No need now", "Chưa có nhu cầu", False), ("Could not reach", "Không liên lạc được", True),
        ("Bad timing", "Bad timing", True),
    ]  # fmt: skip
    assert LostReason.objects.get(name_en="Price too high").pk == price.pk
    assert not LostReason.objects.filter(pk=budget.pk).exists()


def test_a_reason_a_deal_was_lost_for_is_kept_and_can_only_be_deactivated(alice: User, pipeline: Pipeline) -> None:
    # Given a deal lost for "Price too high"
    price = LostReason.objects.get(name_en="Price too high")
    deal = deal_for(alice, pipeline)
    lose(deal, price, alice)
    others = [actions.LostReasonInput(r.name_en, r.name_vi, id=r.pk) for r in LostReason.objects.exclude(pk=price.pk)]
    before = names()

    # When it is left out of the list
    with pytest.raises(actions.SalesError) as refused:
        actions.save_lost_reasons(others)

    # Then nothing changed, and the error names the list
    assert refused.value.field == "reasons" and names() == before

    # When it is deactivated instead
    actions.save_lost_reasons([*others, actions.LostReasonInput(price.name_en, price.name_vi, False, price.pk)])

    # Then the deal keeps its reason, and a new loss for it is refused
    assert Deal.objects.get().lost_reason_id == price.pk
    assert LostReason.objects.get(pk=price.pk).is_active is False
    with pytest.raises(actions.SalesError, match="no longer offered"):
        lose(deal_for(alice, pipeline), LostReason.objects.get(pk=price.pk), alice)


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([actions.LostReasonInput("  ")], "reasons.0.name"),
        ([actions.LostReasonInput("Price"), actions.LostReasonInput("price ")], "reasons.1.name"),
        ([actions.LostReasonInput("Price", is_active=False)], "reasons"),
        ([], "reasons"),
        ([actions.LostReasonInput("Price", id=999_999)], "reasons.0.id"),
    ],
)
def test_invalid_lists_are_refused_naming_the_row_and_nothing_is_written(
    pipeline: Pipeline, rows: list[actions.LostReasonInput], field: str
) -> None:
    # Given the presets
    before = names()

    # When an invalid list is saved
    with pytest.raises(actions.SalesError) as refused:
        actions.save_lost_reasons(rows)

    # Then the error names the field, and the presets are as they were
    assert refused.value.field == field and names() == before


def test_a_manager_edits_the_list_on_the_settings_page(admin_user: User, alice: User, pipeline: Pipeline) -> None:
    # Given a deal lost for the first preset, and the page as the admin sees it
    first = LostReason.objects.first()
    assert first is not None
    lose(deal_for(alice, pipeline), first, alice)
    client = logged_in(admin_user)
    assert 'id="lost-reasons-link"' in client.get("/sales/pipelines/settings").content.decode()
    page = client.get("/sales/pipelines/lost-reasons").content.decode()
    assert page.count('name="reason_id"') == 5 + 3 and "Chose a competitor" in page

    # When the first is unticked, the second renamed, the rest cleared (removed) and a blank row filled
    ids = list(LostReason.objects.values_list("pk", flat=True))
    saved = client.post("/sales/pipelines/lost-reasons", {
        "reason_id": [*map(str, ids), "", "", ""],
        "name_en": ["Chose a competitor", "Too expensive", "", "", "", "", "Bad timing", ""],
        "name_vi": ["Chọn đối thủ", "Quá đắt", "", "", "", "", "Sai thời điểm", ""],
        "active": ["1", "6"],
    })  # fmt: skip

    # Then it saves and lists them in order, the used one kept but no longer offered
    assert saved.status_code == 302 and saved["Location"] == "/sales/pipelines/lost-reasons"
    assert names() == [
        ("Chose a competitor", "Chọn đối thủ", False), ("Too expensive", "Quá đắt", True),
        ("Bad timing", "Sai thời điểm", True),
    ]  # fmt: skip

    # When the used reason is cleared as well
    kept = list(LostReason.objects.values_list("pk", flat=True))
    refused = client.post("/sales/pipelines/lost-reasons", {
        "reason_id": list(map(str, kept)), "name_en": ["", "Too expensive", "Bad timing"],
        "name_vi": ["", "Quá đắt", "Sai thời điểm"], "active": ["1", "2"],
    })  # fmt: skip

    # Then the page says why, showing the rows as posted, and nothing changed
    assert refused.status_code == 200
    assert 'id="reason-errors"' in refused.content.decode() and "deactivate it" in refused.content.decode()
    assert [n for n, _vi, _a in names()] == ["Chose a competitor", "Too expensive", "Bad timing"]


def test_reps_cannot_open_or_post_the_settings_page(alice: User, pipeline: Pipeline) -> None:
    # Given a rep
    client = logged_in(alice)
    before = names()

    # When she opens or posts the page, then it is forbidden and nothing changed
    assert client.get("/sales/pipelines/lost-reasons").status_code == 403
    posted = client.post("/sales/pipelines/lost-reasons", {"reason_id": [""], "name_en": ["Mine"], "active": ["0"]})
    assert posted.status_code == 403 and names() == before


def test_the_api_lists_and_replaces_the_reasons(admin_user: User, alice: User, pipeline: Pipeline) -> None:
    # Given the presets with the last one stopped
    *offered, budget = LostReason.objects.all()
    LostReason.objects.filter(pk=budget.pk).update(is_active=False)
    admin = logged_in(admin_user)

    # When read with and without the inactive ones
    active = admin.get("/api/v1/sales/lost-reasons").json()
    every = admin.get("/api/v1/sales/lost-reasons?include_inactive=true").json()

    # Then both in order, with both names and whether offered
    assert [r["id"] for r in active] == [r.pk for r in offered]
    assert every[-1] == {"id": budget.pk, "name": "No budget", "name_en": "No budget", "name_vi": "Không có ngân sách",
                         "is_active": False}  # fmt: skip

    # When the admin replaces the list with two, one renamed and one new
    replaced = put(admin, {"reasons": [{"id": offered[1].pk, "name_en": "Too expensive", "name_vi": "Quá đắt"},
                                       {"name_en": "Bad timing"}]})  # fmt: skip

    # Then the answer is the new list
    added = LostReason.objects.get(name_en="Bad timing")
    assert replaced.status_code == 200
    assert [(r["id"], r["name_en"], r["name_vi"], r["is_active"]) for r in replaced.json()] == [
        (offered[1].pk, "Too expensive", "Quá đắt", True), (added.pk, "Bad timing", "Bad timing", True),
    ]  # fmt: skip


def test_the_api_refuses_reps_and_names_the_field_at_fault(admin_user: User, alice: User, pipeline: Pipeline) -> None:
    # Given the presets
    before = names()

    # When a rep replaces them, or the admin sends a blank name
    forbidden = put(logged_in(alice), {"reasons": [{"name_en": "Mine"}]})
    blank = put(logged_in(admin_user), {"reasons": [{"name_en": "Fine"}, {"name_en": " "}]})

    # Then 403, and 422 naming the row's name; nothing was written
    assert forbidden.status_code == 403
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "reasons", "1", "name"]
    assert names() == before
