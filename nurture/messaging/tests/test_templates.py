"""Template variables: validation when saved, rendering for a contact in the sandbox."""

from __future__ import annotations

import pytest

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.messaging.actions import MessagingError, render, save_template, validate_template
from nurture.messaging.models import Template
from nurture.messaging.rendering import TemplateInvalid
from nurture.notifications.tests.conftest import make_lead

pytestmark = pytest.mark.django_db


def test_validate_template_names_the_unknown_variables() -> None:
    assert validate_template(["{{ greeting }} {{ owner.name }} {{ custom.anything }} {{ unsubscribe_url }}"]) == []
    assert validate_template(
        ["{{ fullname }}", "{{ owner.nam }} {{ owner.phone }}", "{% for x in need %}{{ x }}{% endfor %}"]
    ) == ["fullname", "owner.nam"]
    assert validate_template(["{{ course }}"], extra=["course"]) == []
    with pytest.raises(TemplateInvalid, match="line 1"):
        validate_template(["{{ greeting "])


@pytest.mark.parametrize(
    ("gender", "given", "expected"),
    [
        ("male", "An", "anh An"),
        ("female", "Hương", "chị Hương"),
        ("", "An", "bạn An"),
        ("female", "", "chị"),
    ],
)
def test_the_greeting_follows_gender(owner: User, gender: str, given: str, expected: str) -> None:
    contact = make_lead(owner, gender=gender, given_name=given)
    template = Template(channel="email", subject="Chào {{ greeting }}", body="{{ greeting|capitalize }} ơi")
    assert render(template, contact) == (f"Chào {expected}", f"{expected.capitalize()} ơi")


def test_render_uses_the_contact_owner_custom_fields_and_links(an: Contact) -> None:
    template = Template(
        channel="sms",
        body="{{ full_name }}|{{ phone }}|{{ province }}|{{ owner.name }}|"
        "{{ custom.course }}|{{ unsubscribe_url == preferences_url }}|{{ x }}",
    )
    assert render(template, an, {"x": 7}) == ("", "Nguyễn Văn An|+84912345678|Hà Nội|Hoa Lê|IELTS 7.0|True|7")


def test_the_sandbox_keeps_templates_away_from_the_system(an: Contact) -> None:
    template = Template(channel="sms", body="{{ custom.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateInvalid):
        render(template, an)


def test_save_template_refuses_unknown_variables_naming_field_and_variable() -> None:
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"channel": "email", "subject": "Chào {{ ten }}", "body": "x"}, "subject", "unknown variable: ten"),
        (
            {"channel": "zalo", "body": "x", "zns_params": {"name": "{{ owner.title }}"}},
            "zns_params.name",
            "unknown variable: owner.title",
        ),
        ({"channel": "email", "subject": "", "body": "x"}, "subject", "required for this channel"),
        ({"channel": "zalo", "body": ""}, "body", "a Zalo template needs an OA text or a ZNS template id"),
        (
            {"channel": "sms", "body": "{% if %}"},
            "body",
            "line 1: Expected an expression, got 'end of statement block'",
        ),
    ]
    for data, field, message in cases:
        with pytest.raises(MessagingError) as caught:
            save_template(None, {"name": "T", **data})
        assert (caught.value.field, caught.value.message) == (field, message)
    assert Template.objects.count() == 0
    saved = save_template(None, {"name": "T", "channel": "zalo", "zns_template_id": "231456"})
    assert (saved.language, saved.is_active, saved.zns_params) == ("vi", True, {})
    with pytest.raises(MessagingError, match="exists"):
        save_template(None, {"name": "T", "channel": "zalo", "zns_template_id": "1"})
