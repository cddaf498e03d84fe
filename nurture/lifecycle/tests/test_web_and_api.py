"""The lifecycle pages, the checklist on the contact page, and the lifecycle API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.lifecycle.models import ChecklistItem, StageChange, StageSet, TransitionRule

pytestmark = pytest.mark.django_db


def capture(owner: User | None = None, **fields: Any) -> Contact:
    fields.setdefault("full_name", "Trần Thị Mai")
    fields.setdefault("phone", "0912345678")
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED, source_label="api")[0]
    contact = Contact.objects.get(pk=result.contact_id)
    if owner:
        Contact.objects.filter(pk=contact.pk).update(owner=owner)
    return contact


def test_overview_rule_form_and_report_pages(admin_client: Client) -> None:
    capture()
    page = admin_client.get("/lifecycle/")
    assert page.status_code == 200 and "SQL" in page.content.decode()
    mql = StageSet.objects.get(is_active=True).stages.get(key="mql")
    bad = admin_client.post("/lifecycle/rules/new", {"name": "x", "conditions": '{"field": "nope"}', "priority": 1,
                                                     "to_stage": mql.pk})  # fmt: skip
    assert bad.status_code == 200 and "unknown field" in bad.content.decode()
    ok = admin_client.post("/lifecycle/rules/new", {
        "name": "Engaged", "conditions": '{"field": "engagement_score", "op": "gte", "value": 50}',
        "to_stage": mql.pk, "priority": 5, "is_active": "on",
    })  # fmt: skip
    assert ok.status_code == 302 and TransitionRule.objects.get().name == "Engaged"
    report = admin_client.get("/lifecycle/report", {"from": mql.pk, "to": mql.pk})
    assert report.status_code == 200 and 'id="stage-report"' in report.content.decode()


def test_reps_cannot_configure(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/lifecycle/").status_code == 403


def test_edit_stages_and_switch_set_in_the_ui(admin_client: Client) -> None:
    contact = capture()
    six = StageSet.objects.get(key="six_stages")
    form = admin_client.get(f"/lifecycle/sets/{six.pk}/stages").context["formset"]
    data = {"stages-TOTAL_FORMS": str(len(form.forms)), "stages-INITIAL_FORMS": str(form.initial_form_count()),
            "stages-MIN_NUM_FORMS": "0", "stages-MAX_NUM_FORMS": "1000", "backward": "listed"}  # fmt: skip
    for i, f in enumerate(form.forms):
        for name in ("pk", "key", "name_en", "name_vi", "outcome", "returns_to"):
            data[f"stages-{i}-{name}"] = f.initial.get(name, "") or ""
    last = len(form.initial_forms)
    data.update({f"stages-{last}-key": "churned", f"stages-{last}-name_en": "Churned",
                 f"stages-{last}-name_vi": "Rời bỏ", f"stages-{last}-outcome": "lost",
                 f"stages-{last}-returns_to": "awareness"})  # fmt: skip
    saved = admin_client.post(f"/lifecycle/sets/{six.pk}/stages", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert six.stages.get(key="churned").returns_to.get().key == "awareness"

    activate = admin_client.get(f"/lifecycle/sets/{six.pk}/activate")
    mapping = {name: field.initial for name, field in activate.context["form"].fields.items()}
    done = admin_client.post(f"/lifecycle/sets/{six.pk}/activate", mapping)
    assert done.status_code == 302
    contact.refresh_from_db()
    assert contact.stage.stage_set == six


def test_checklist_on_the_contact_page(admin_client: Client, admin_user: User) -> None:
    contact = capture()
    page = admin_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'id="checklist"' in page and page.count('name="authority_value"') == 1
    admin_client.post(f"/contacts/{contact.pk}/checklist", {"budget_value": "20 triệu", "budget_confirmed": "on"})
    row = ChecklistItem.objects.get(contact=contact)
    assert (row.item, row.value, row.confirmed, row.confirmed_by) == ("budget", "20 triệu", True, admin_user)
    sql = StageSet.objects.get(is_active=True).stages.get(key="sql")
    moved = admin_client.post(f"/contacts/{contact.pk}/stage", {"stage": sql.pk, "reason": "ready"}, follow=True)
    assert "Authority" in moved.content.decode() or "Thẩm quyền" in moved.content.decode()
    contact.refresh_from_db()
    assert contact.stage.key == "lead"


@pytest.fixture
def writer(admin_user: User) -> Client:
    _key, raw = create_api_key(
        name="lc", scopes=["contacts:read", "contacts:write", "lifecycle:write"], created_by=admin_user
    )
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_api_rules_checklist_forbidden_move_and_report(writer: Client, api: Client) -> None:
    contact = capture()
    sets = writer.get("/api/v1/lifecycle/stage-sets").json()
    assert sets[0]["is_active"] and [s["key"] for s in sets[0]["stages"]][:3] == ["anonymous", "lead", "mql"]

    bad = writer.post("/api/v1/lifecycle/rules", {"name": "x", "conditions": {"field": "x", "op": "eq", "value": 1},
                                                  "to_stage": "mql"}, content_type="application/json")  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "conditions"]
    unknown = writer.post("/api/v1/lifecycle/rules", {"name": "x", "conditions": {}, "to_stage": "nowhere"},
                          content_type="application/json")  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "to_stage"]
    denied = api.post("/api/v1/lifecycle/rules", {"name": "x", "conditions": {}, "to_stage": "mql"},
                      content_type="application/json")  # fmt: skip
    assert denied.status_code == 403
    made = writer.post("/api/v1/lifecycle/rules", {
        "name": "Hà Nội → MQL", "conditions": {"field": "province", "op": "eq", "value": "Hà Nội"}, "to_stage": "mql",
    }, content_type="application/json")  # fmt: skip
    assert made.status_code == 201 and made.json()["from_stages"] == []

    forbidden = writer.post(f"/api/v1/contacts/{contact.pk}/stage", {"stage": "sql", "reason": "hot"},
                            content_type="application/json")  # fmt: skip
    assert forbidden.status_code == 422 and forbidden.json()["detail"][0]["loc"] == ["body", "stage"]
    items = {"budget": {"value": "20tr", "confirmed": True}, "authority": {"value": "CEO", "confirmed": True},
             "need": {"value": "IELTS", "confirmed": True}}  # fmt: skip
    patched = writer.patch(f"/api/v1/contacts/{contact.pk}/checklist", json.dumps(items),
                           content_type="application/json")  # fmt: skip
    assert patched.status_code == 200, patched.content
    assert {r["item"] for r in patched.json() if r["confirmed"]} == {"budget", "authority", "need"}
    bad_item = writer.patch(f"/api/v1/contacts/{contact.pk}/checklist", json.dumps({"price": {"confirmed": True}}),
                            content_type="application/json")  # fmt: skip
    assert bad_item.status_code == 422 and bad_item.json()["detail"][0]["loc"] == ["body", "price"]
    ok = writer.post(f"/api/v1/contacts/{contact.pk}/stage", {"stage": "sql", "reason": "hot"},
                     content_type="application/json")  # fmt: skip
    assert ok.status_code == 200
    assert StageChange.objects.filter(contact=contact, cause="api", to_stage__key="sql").exists()

    report = writer.get("/api/v1/lifecycle/report").json()
    assert {r["stage"]: r["entered"] for r in report}["sql"] == 1
    conv = writer.get("/api/v1/lifecycle/conversion", {"from_stage": "lead", "to_stage": "sql"}).json()
    assert (conv["entered"], conv["converted"]) == (1, 1)
    assert writer.get("/api/v1/lifecycle/report", {"since": "soon"}).json()["detail"][0]["loc"] == ["query", "since"]


def test_api_switch_set(writer: Client) -> None:
    contact = capture()
    process_due_jobs()
    switched = writer.post("/api/v1/lifecycle/stage-sets/seven_steps/activate", {"mapping": {"lead": "leads"}},
                           content_type="application/json")  # fmt: skip
    assert switched.status_code == 200 and switched.json()["moved"] == 1
    contact.refresh_from_db()
    assert contact.stage.key == "leads"
    wrong = writer.post("/api/v1/lifecycle/stage-sets/six_stages/activate", {"mapping": {"leads": "nowhere"}},
                        content_type="application/json")  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "mapping", "leads"]
