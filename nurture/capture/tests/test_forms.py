from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from nurture.capture import spam
from nurture.capture.actions import save_lead_form
from nurture.capture.builder import TIMESTAMP
from nurture.capture.models import LeadForm
from nurture.contacts.models import Contact, Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def lead_form() -> LeadForm:
    return save_lead_form(
        LeadForm(name="Học thử", slug="hoc-thu", source="website", thank_you_message="Cảm ơn bạn!"),
        fields=[
            {"key": "full_name", "label": "", "type": "text", "required": True, "custom": False},
            {"key": "phone", "label": "Số điện thoại", "type": "tel", "required": True, "custom": False},
            {"key": "email", "label": "", "type": "email", "required": False, "custom": False},
            {
                "key": "course",
                "label": "Khóa học",
                "type": "select",
                "required": True,
                "options": ["IELTS", "Giao tiếp"],
                "custom": True,
            },
        ],
        consent_texts={"zalo": "Tôi đồng ý nhận tin qua Zalo"},
        tags=["hoc-thu"],
        user=None,
    )


def submission(**overrides: Any) -> dict[str, Any]:
    data = {
        "full_name": "Nguyễn Văn An",
        "phone": "0912 345 678",
        "email": "",
        "custom_course": "IELTS",
        "consent_zalo": "on",
        "utm_source": "facebook",
        "utm_medium": "cpc",
        "utm_campaign": "IELTS-thang-9",
        "referrer": "https://www.facebook.com/",
        "landing_url": "https://saomai.edu.vn/hoc-thu",
        TIMESTAMP: spam.issue_token(),
        "website": "",
    }
    data.update(overrides)
    return data


@override_settings(NURTURE_FORM_MIN_SECONDS=0)
def test_hosted_form_captures_the_lead_with_utm_and_consent(lead_form: LeadForm) -> None:
    # Given the hosted page reached from a campaign link
    page = Client().get("/f/hoc-thu?utm_source=facebook&utm_campaign=IELTS-thang-9", HTTP_REFERER="https://fb.com/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="IELTS-thang-9"' in html and "Tôi đồng ý nhận tin qua Zalo" in html
    # When the visitor submits it
    response = Client().post("/f/hoc-thu", submission())
    # Then the lead carries the source, campaign, consent, tag and custom field
    assert response.status_code == 200
    assert "Cảm ơn bạn!" in response.content.decode()
    contact = Contact.objects.get()
    assert (contact.phone, contact.source, contact.medium, contact.campaign) == (
        "+84912345678", "facebook", "cpc", "IELTS-thang-9",
    )  # fmt: skip
    assert contact.referrer == "https://www.facebook.com/"
    assert contact.custom_fields == {"course": "IELTS"}
    assert [t.name for t in contact.tags.all()] == ["hoc-thu"]
    consent = contact.consents.get()
    assert (consent.channel, consent.granted, consent.text) == ("zalo", True, "Tôi đồng ý nhận tin qua Zalo")
    event = contact.events.get()
    assert (event.type, event.source, event.data["form"]) == (Event.Type.FORM_SUBMITTED, "form:hoc-thu", "hoc-thu")


@override_settings(NURTURE_FORM_MIN_SECONDS=0)
def test_a_second_submission_lands_on_the_same_contact(lead_form: LeadForm) -> None:
    Client().post("/f/hoc-thu", submission())
    Client().post("/f/hoc-thu", submission(phone="+84912345678", email="an@example.com"))
    contact = Contact.objects.get()
    assert contact.email == "an@example.com"
    assert contact.events.count() == 2


@override_settings(NURTURE_FORM_MIN_SECONDS=0)
@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"phone": ""}, "phone"), ({"phone": "0000"}, "phone"), ({"custom_course": "Piano"}, "custom_course"),
     ({"email": "an@"}, "email")],
)  # fmt: skip
def test_invalid_submission_is_422_naming_the_field_and_writes_nothing(
    lead_form: LeadForm, overrides: dict[str, str], field: str
) -> None:
    response = Client().post("/f/hoc-thu", submission(**overrides))
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert Contact.objects.count() == 0


def test_unknown_or_inactive_form_is_404(lead_form: LeadForm) -> None:
    assert Client().get("/f/khong-co").status_code == 404
    LeadForm.objects.filter(pk=lead_form.pk).update(is_active=False)
    assert Client().post("/f/hoc-thu", submission()).status_code == 404
    assert Contact.objects.count() == 0


@override_settings(NURTURE_FORM_MIN_SECONDS=0)
def test_honeypot_thanks_the_bot_and_keeps_nothing(lead_form: LeadForm) -> None:
    response = Client().post("/f/hoc-thu", submission(website="http://spam.example"))
    assert response.status_code == 200
    assert Contact.objects.count() == 0


@override_settings(NURTURE_FORM_MIN_SECONDS=30)
def test_too_fast_submission_is_asked_again_not_lost(lead_form: LeadForm) -> None:
    # When a submission comes back faster than a person can type
    response = Client().post("/f/hoc-thu", submission())
    # Then nothing is written, the form is shown again with the values and a fresh token
    assert response.status_code == 422
    assert Contact.objects.count() == 0
    assert "Nguyễn Văn An" in response.content.decode()
    # And a forged or missing token is treated the same way
    assert Client().post("/f/hoc-thu", submission(**{TIMESTAMP: "forged"})).status_code == 422


@override_settings(NURTURE_FORM_MIN_SECONDS=0, NURTURE_FORM_RATE_LIMIT=3)
def test_rate_limit_per_ip(lead_form: LeadForm) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [client.post("/f/hoc-thu", submission(phone=f"091234567{i}")).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Contact.objects.count() == 3
    assert Client(REMOTE_ADDR="203.0.113.10").post("/f/hoc-thu", submission(phone="0987654321")).status_code == 200


def test_embed_script_points_at_the_hosted_page(lead_form: LeadForm) -> None:
    response = Client().get("/f/hoc-thu/embed.js")
    assert response["Content-Type"].startswith("application/javascript")
    assert "/f/hoc-thu" in response.content.decode()
    assert "utm_campaign" in response.content.decode()


def test_builder_creates_a_form(admin_client: Client) -> None:
    # When a marketer builds a form with a custom field and consent text
    data = {
        "name": "Tải lộ trình IELTS", "slug": "", "title": "", "intro": "", "submit_label": "Tải ngay",
        "thank_you_message": "", "redirect_url": "", "source": "website", "is_active": "on",
        "tags_text": "ielts, ebook",
        "std_full_name_on": "on", "std_full_name_req": "on", "std_full_name_label": "",
        "std_phone_on": "on", "std_phone_req": "on", "std_phone_label": "SĐT",
        "std_email_on": "on", "std_email_label": "",
        "consent_email": "Đồng ý nhận email",
        "custom-TOTAL_FORMS": "2", "custom-INITIAL_FORMS": "0", "custom-MIN_NUM_FORMS": "0",
        "custom-MAX_NUM_FORMS": "30",
        "custom-0-label": "Điểm IELTS hiện tại", "custom-0-key": "", "custom-0-type": "number", "custom-0-options": "",
        "custom-1-label": "", "custom-1-key": "", "custom-1-type": "text", "custom-1-options": "",
    }  # fmt: skip
    response = admin_client.post("/forms/new", data)
    # Then it is saved with its fields and served at its address
    assert response.status_code == 302, response.content.decode()[:3000]
    form = LeadForm.objects.get()
    assert form.slug == "tai-lo-trinh-ielts"
    assert [f["key"] for f in form.fields] == ["full_name", "phone", "email", "diem_ielts_hien_tai"]
    assert form.fields[1]["label"] == "SĐT" and form.fields[1]["required"] is True
    assert form.consent_texts == {"email": "Đồng ý nhận email"}
    assert form.tags == ["ielts", "ebook"]
    page = Client().get("/f/tai-lo-trinh-ielts").content.decode()
    assert "Điểm IELTS hiện tại" in page and "Đồng ý nhận email" in page
    edit = admin_client.get(f"/forms/{form.pk}/").content.decode()
    assert "/f/tai-lo-trinh-ielts/embed.js" in edit


def test_builder_requires_a_contact_point_and_a_unique_slug(admin_client: Client, lead_form: LeadForm) -> None:
    base = {"name": "X", "slug": "hoc-thu", "source": "website", "custom-TOTAL_FORMS": "0", "custom-INITIAL_FORMS": "0"}
    response = admin_client.post("/forms/new", {**base, "std_full_name_on": "on"})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "slug" in errors and "__all__" in errors
    assert LeadForm.objects.count() == 1


def test_a_sales_rep_cannot_build_forms(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/forms/").status_code == 403
    assert client.post("/forms/new", {"name": "x"}).status_code == 403
