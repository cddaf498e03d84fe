"""The bell, the list, opening a notice, and the webhook channels pages."""

from __future__ import annotations

import pytest
from django.test import Client

from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.core.jobs import process_due_jobs
from nurture.core.models import Job
from nurture.notifications.actions import notify
from nurture.notifications.models import Notification, WebhookChannel
from nurture.notifications.tests.conftest import Endpoint

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}


def logged_in(user: User) -> Client:
    client = Client(headers=EN)
    client.force_login(user)
    return client


@pytest.fixture
def notices(alice: User, bob: User, lead: Contact) -> dict[str, Notification]:
    """Two unread notices and a read one for alice, and one for bob."""
    made = {
        "old": notify(alice, kind="info", title="Welcome to Nurture"),
        "lead": notify(alice, kind="new_lead", title="New lead: Nguyễn Văn An", contact=lead),
        "sla": notify(alice, kind="sla_reminder", title="Call An within 5 minutes", contact=lead),
        "bob": notify(bob, kind="info", title="For bob only"),
    }
    Notification.objects.filter(pk=made["old"].pk).update(read_at=made["old"].created_at)
    return made


def test_the_bell_counts_the_users_unread_notices(alice: User, notices: dict[str, Notification]) -> None:
    # When alice's page polls the counter
    response = logged_in(alice).get("/notifications/count", headers={"HX-Request": "true"})
    # Then it is the bell alone, with her two unread, polling again in 5 s
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<a id="notification-bell" href="/notifications/"')
    assert '<span class="badge band-hot" id="notification-count">2</span>' in html
    assert 'hx-get="/notifications/count" hx-trigger="every 5s" hx-swap="outerHTML"' in html
    assert 'aria-label="2 unread notifications"' in html
    # And every page's header carries it
    assert '<span class="badge band-hot" id="notification-count">2</span>' in logged_in(alice).get("/").content.decode()


def test_the_bell_without_unread_and_after_logout(charlie: User) -> None:
    assert 'id="notification-count"' not in logged_in(charlie).get("/notifications/count").content.decode()
    # A tab left open after logging out is told to stop polling (htmx's 286), not sent the login page
    response = Client().get("/notifications/count")
    assert (response.status_code, response.content) == (286, b"")


def test_the_list_shows_the_users_notices_newest_first(alice: User, notices: dict[str, Notification]) -> None:
    # When alice opens her notifications
    html = logged_in(alice).get("/notifications/").content.decode()
    # Then hers are listed newest first, unread in bold, each opening through its own link; bob's is not there
    rows = [html.index(f'data-notification="{notices[k].pk}"') for k in ("sla", "lead", "old")]
    assert rows == sorted(rows)
    assert "For bob only" not in html
    assert f'<a href="/notifications/{notices["sla"].pk}/"><strong>Call An within 5 minutes</strong></a>' in html
    assert f'<a href="/notifications/{notices["old"].pk}/">Welcome to Nurture</a>' in html
    assert 'id="mark-all-read"' in html


def test_opening_a_notice_marks_it_read_and_goes_to_the_lead(
    alice: User, lead: Contact, notices: dict[str, Notification]
) -> None:
    # When alice opens the new-lead notice
    response = logged_in(alice).get(f"/notifications/{notices['lead'].pk}/")
    # Then she lands on the lead's page and only that notice is now read
    assert (response.status_code, response["Location"]) == (302, f"/contacts/{lead.pk}/")
    unread = set(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True))
    assert unread == {notices["sla"].pk, notices["bob"].pk}
    # And a notice without a link goes back to the list
    assert logged_in(alice).get(f"/notifications/{notices['old'].pk}/")["Location"] == "/notifications/"


def test_nobody_opens_someone_elses_notice(alice: User, notices: dict[str, Notification]) -> None:
    assert logged_in(alice).get(f"/notifications/{notices['bob'].pk}/").status_code == 404
    assert Notification.objects.get(pk=notices["bob"].pk).read_at is None


def test_mark_all_read(alice: User, notices: dict[str, Notification]) -> None:
    # When alice marks all read
    response = logged_in(alice).post("/notifications/read", follow=True)
    # Then hers are read, bob's is not
    assert "2 marked read." in response.content.decode()
    assert list(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == [notices["bob"].pk]
    assert logged_in(alice).get("/notifications/read").status_code == 405


# --- webhook channels ----------------------------------------------------------------------------------


def channel_form(url: str, **fields: object) -> dict[str, object]:
    return {"name": "Zalo relay", "url": url, "secret": "", "is_active": "on", "kinds": ["new_lead"], **fields}


def test_a_manager_adds_tests_edits_and_deletes_a_channel(admin_user: User, endpoint: Endpoint, bob: User) -> None:
    admin = logged_in(admin_user)
    # When a channel is added without a secret
    response = admin.post("/notifications/channels/new", channel_form(endpoint.url))
    # Then it is saved with a generated secret and listed
    relay = WebhookChannel.objects.get()
    assert response.status_code == 302 and response["Location"] == "/notifications/channels/"
    assert (relay.name, relay.url, relay.kinds, relay.is_active, relay.user, len(relay.secret)) == (
        "Zalo relay", endpoint.url, ["new_lead"], True, None, 64)  # fmt: skip
    assert (
        f'<a href="/notifications/channels/{relay.pk}/">Zalo relay</a>'
        in admin.get("/notifications/channels/").content.decode()
    )

    # When "Send test" is pressed and the worker runs
    response = admin.post(f"/notifications/channels/{relay.pk}/test", follow=True)
    assert "A test is on its way to “Zalo relay”" in response.content.decode()
    assert Job.objects.filter(kind="notifications.webhook").count() == 1
    process_due_jobs()
    # Then the endpoint got it and the page shows the result
    assert len(endpoint.received) == 1 and endpoint.received[0].signed_with(relay.secret)
    assert '<span class="badge">200</span>' in admin.get("/notifications/channels/").content.decode()

    # When it is narrowed to bob's notices with a secret of its own, then deleted
    admin.post(f"/notifications/channels/{relay.pk}/", channel_form(endpoint.url, secret="shared", user=bob.pk))
    relay.refresh_from_db()
    assert (relay.secret, relay.user_id) == ("shared", bob.pk)
    admin.post(f"/notifications/channels/{relay.pk}/delete")
    assert WebhookChannel.objects.count() == 0


def test_a_channel_url_must_be_http(admin_user: User) -> None:
    response = logged_in(admin_user).post("/notifications/channels/new", channel_form("ftp://example.com/hook"))
    assert response.status_code == 200 and "Use an http:// or https:// address." in response.content.decode()
    assert WebhookChannel.objects.count() == 0


def test_a_sales_rep_cannot_touch_channels(alice: User, admin_user: User) -> None:
    # Given a channel
    logged_in(admin_user).post("/notifications/channels/new", channel_form("https://relay.example.vn/hook"))
    relay = WebhookChannel.objects.get()
    rep = logged_in(alice)
    # When a sales rep tries every channel page, then each is refused and nothing changes or is sent
    for method, path in [("get", "/notifications/channels/"), ("get", "/notifications/channels/new"),
                         ("post", "/notifications/channels/new"), ("post", f"/notifications/channels/{relay.pk}/"),
                         ("post", f"/notifications/channels/{relay.pk}/test"),
                         ("post", f"/notifications/channels/{relay.pk}/delete")]:  # fmt: skip
        data = channel_form("https://evil.example/") if method == "post" else None
        assert getattr(rep, method)(path, data).status_code == 403, path
    assert list(WebhookChannel.objects.values_list("url", flat=True)) == ["https://relay.example.vn/hook"]
    assert Job.objects.count() == 0
    # And her notifications page does not link to them
    assert "/notifications/channels/" not in rep.get("/notifications/").content.decode()
