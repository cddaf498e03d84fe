"""The messaging pages: templates with preview, messages with the Failed tab and Retry, policies."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core.models import Job
from nurture.messaging.actions import send
from nurture.messaging.models import ChannelPolicy, Message, Template

pytestmark = pytest.mark.django_db


def test_the_nav_links_messaging_for_configuring_users_only(admin_client: Client, alice: User) -> None:
    html = admin_client.get("/messaging/templates").content.decode()
    assert '<a href="/messaging/templates" class="active">Tin nhắn</a>' in html
    rep = Client()
    rep.force_login(alice)
    assert 'href="/messaging/templates"' not in rep.get("/").content.decode()
    assert rep.get("/messaging/templates").status_code == 403
    assert rep.get("/messaging/messages").status_code == 403


def test_a_template_is_created_and_an_unknown_variable_refused(admin_client: Client) -> None:
    form = {
        "name": "Chào mừng",
        "channel": "email",
        "language": "vi",
        "subject": "Chào {{ greting }}",
        "body": "Xin chào",
        "is_active": "on",
    }
    # When it is saved with a misspelt variable, then the form says which, and nothing is saved
    html = admin_client.post("/messaging/templates/new", form).content.decode()
    assert "unknown variable: greting" in html
    assert Template.objects.count() == 0
    # When corrected, then it is saved and listed
    response = admin_client.post("/messaging/templates/new", {**form, "subject": "Chào {{ greeting }}"})
    assert (response.status_code, response["Location"]) == (302, "/messaging/templates")
    html = admin_client.get("/messaging/templates").content.decode()
    template = Template.objects.get()
    assert f'<a href="/messaging/templates/{template.pk}/">Chào mừng</a>' in html


def test_the_preview_renders_for_a_contact_found_by_name_or_id(admin_client: Client, an: Contact) -> None:
    form = {"name": "x", "channel": "sms", "language": "vi", "body": "Chào {{ greeting }} ở {{ province }}"}
    for query in ("nguyen van an", str(an.pk), "an@example.vn"):
        html = admin_client.post("/messaging/templates/preview", {**form, "preview_contact": query}).content.decode()
        assert "Chào anh An ở Hà Nội" in html, query
    html = admin_client.post(
        "/messaging/templates/preview", {**form, "body": "{{ tinh }}", "preview_contact": "An"}
    ).content.decode()
    assert "Biến không xác định" in html and "<code>tinh</code>" in html
    html = admin_client.post("/messaging/templates/preview", {**form, "preview_contact": "nobody"}).content.decode()
    assert "Không tìm thấy liên hệ." in html


def test_the_failed_tab_shows_the_reason_and_retries(admin_client: Client, an: Contact) -> None:
    # Given a failed SMS and a queued email
    failed = send(an, channel="sms", key="s", body="x")
    Message.objects.filter(pk=failed.pk).update(status="failed", reason="provider_error", error="HTTP 500: down")
    send(an, channel="email", key="e", subject="s", body="b")
    # When the Failed tab is opened, then only the failed one is listed with its reason and a Retry button
    html = admin_client.get("/messaging/messages?status=failed").content.decode()
    assert html.count("data-message=") == 1 and f'data-message="{failed.pk}"' in html
    assert "Lỗi nhà cung cấp" in html and "HTTP 500: down" in html
    assert f'action="/messaging/messages/{failed.pk}/retry"' in html
    # And the channel filter works on the full list
    assert admin_client.get("/messaging/messages?channel=email").content.decode().count("data-message=") == 1
    # When Retry is pressed, then the message is queued again with a new job
    response = admin_client.post(f"/messaging/messages/{failed.pk}/retry")
    assert response["Location"] == "/messaging/messages?status=failed"
    failed.refresh_from_db()
    assert (failed.status, failed.retries) == ("queued", 1)
    assert Job.objects.filter(idempotency_key=f"messaging.send:{failed.pk}:1").exists()


def test_policies_are_saved_per_channel(admin_client: Client) -> None:
    html = admin_client.get("/messaging/policies").content.decode()
    assert 'name="sms-quiet_from" value="21:00' in html and 'name="email-max_messages" value="3"' in html
    response = admin_client.post(
        "/messaging/policies",
        {
            "channel": "sms",
            "sms-max_messages": "1",
            "sms-per_days": "3",
            "sms-quiet_from": "20:00",
            "sms-quiet_to": "09:00",
        },
    )
    assert response.status_code == 302
    policy = ChannelPolicy.objects.get()
    assert (policy.channel, policy.max_messages, policy.per_days, policy.quiet_from, policy.quiet_to) == (
        "sms",
        1,
        3,
        time(20),
        time(9),
    )
    html = admin_client.post(
        "/messaging/policies",
        {"channel": "zalo", "zalo-max_messages": "1", "zalo-per_days": "1", "zalo-quiet_from": "20:00"},
    ).content.decode()
    assert "give both ends of the quiet hours, or neither" in html
    assert ChannelPolicy.objects.count() == 1
