from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from nurture.accounts.models import User
from nurture.contacts.actions import EventInput, capture_leads, record_events
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import process_due_jobs
from nurture.scoring.models import PointsRule, RescoreRun

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}


def capture(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED, source_label="api")[0]
    return Contact.objects.get(pk=result.contact_id)


def rule_form(**fields: Any) -> dict[str, Any]:
    return {"name": "Webinar", "kind": "behaviour", "event_type": "webinar_attended", "points": "15", "cap": "",
            "cap_period": "week", "is_active": "on", "conditions_json": "", **fields}  # fmt: skip


def test_a_rule_made_in_the_ui_rescores_and_the_contact_page_explains(admin_client: Client) -> None:
    contact = capture(full_name="Phạm Thu Hà", phone="0912345678", province="Hà Nội")
    record_events([EventInput(contact_id=contact.pk, type="webinar_attended", data={"topic": "IELTS"})])
    response = admin_client.post("/scoring/rules/new", rule_form(c0_field="data.topic", c0_op="eq", c0_value="IELTS"),
                                 headers=EN)  # fmt: skip
    run = RescoreRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/scoring/runs/{run.pk}/"
    assert PointsRule.objects.get().conditions == [{"field": "data.topic", "op": "eq", "value": "IELTS"}]
    process_due_jobs()
    progress = admin_client.get(f"/scoring/runs/{run.pk}/", headers={**EN, "HX-Request": "true"})
    assert "Done" in progress.content.decode() and "1/1" in progress.content.decode()
    page = admin_client.get(f"/contacts/{contact.pk}/", headers=EN).content.decode()
    assert "fit 0 · engagement 15" in page and "Why this score?" in page
    why = admin_client.get(f"/contacts/{contact.pk}/score", headers=EN).content.decode()
    assert "Webinar" in why and "+15" in why and "Webinar attended" not in why  # a custom event type, shown raw


def test_attribute_rule_form_and_errors_naming_the_field(admin_client: Client) -> None:
    bad = admin_client.post("/scoring/rules/new", rule_form(kind="attribute", event_type="", c0_field="shoe_size",
                                                            c0_op="eq", c0_value="42"), headers=EN)  # fmt: skip
    assert bad.status_code == 200 and "unknown field" in bad.content.decode()
    broken = admin_client.post("/scoring/rules/new", rule_form(conditions_json="{not json"), headers=EN)
    assert "Not valid JSON" in broken.content.decode()
    assert not PointsRule.objects.exists()
    contact = capture(full_name="Phạm Thu Hà", phone="0912345678", province="Hà Nội")
    form = rule_form(name="Hà Nội", kind="attribute", event_type="", points="20", c0_field="province", c0_op="in",
                     c0_value="Hà Nội, Hải Phòng")  # fmt: skip
    ok = admin_client.post("/scoring/rules/new", form, headers=EN)
    assert ok.status_code == 302
    process_due_jobs()
    contact.refresh_from_db()
    assert (contact.fit_score, contact.score) == (20, 20)
    rule = PointsRule.objects.get()
    edit = admin_client.get(f"/scoring/rules/{rule.pk}/", headers=EN).content.decode()
    assert 'value="Hà Nội, Hải Phòng"' in edit
    admin_client.post(f"/scoring/rules/{rule.pk}/delete", headers=EN)
    process_due_jobs()
    contact.refresh_from_db()
    assert contact.score == 0 and not PointsRule.objects.exists()


def test_settings_are_validated_and_reps_cannot_configure(admin_client: Client, alice: User) -> None:
    with translation.override("en"):
        bad = admin_client.post("/scoring/", {"half_life_days": "30", "hot": "20", "warm": "40"}, headers=EN)
    assert "Warm must start below hot." in bad.content.decode()
    rep = Client()
    rep.force_login(alice)
    assert rep.get("/scoring/").status_code == 403
    assert rep.get("/scoring/rules/new").status_code == 403
