"""The open pixel, tracked clicks (never an open redirect) and the unsubscribe page."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from nurture.contacts.models import Consent, Contact, Event
from nurture.core import clock
from nurture.messaging import tracking
from nurture.messaging.actions import send
from nurture.messaging.models import Message, Suppression

pytestmark = pytest.mark.django_db
NOW = "2026-03-02 10:00 +07:00"


def path(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


def events(type: str) -> list[dict[str, object]]:
    return [e.data for e in Event.objects.filter(type=type).order_by("pk")]


@pytest.fixture
def mail(an: Contact) -> Message:
    return send(an, channel="email", key="m1", subject="s", body="b", origin="journey:1")


@time_machine.travel(NOW, tick=False)
def test_the_pixel_records_the_first_open_only(mail: Message) -> None:
    # When the pixel is fetched twice
    url = path(tracking.open_url(mail.pk))
    first, second = Client().get(url), Client().get(url)
    # Then both get a GIF that is not cached, and one email_opened event is on the timeline
    assert (first.status_code, first["Content-Type"], first["Cache-Control"]) == (200, "image/gif", "no-store, private")
    assert second.status_code == 200 and first.content.startswith(b"GIF89a")
    mail.refresh_from_db()
    assert mail.opened_at == clock.now()
    assert events("email_opened") == [
        {"message_id": mail.pk, "channel": "email", "route": "email", "origin": "journey:1", "template_id": None}
    ]


def test_a_click_is_recorded_and_redirected(mail: Message) -> None:
    url = "https://saomai.edu.vn/khoa-hoc?id=7&utm_source=email"
    response = Client().get(path(tracking.click_url(mail.pk, url)))
    assert (response.status_code, response["Location"]) == (302, url)
    assert [(e["message_id"], e["url"]) for e in events("email_clicked")] == [(mail.pk, url)]
    mail.refresh_from_db()
    assert mail.clicked_at is not None


def test_a_forged_or_tampered_link_goes_nowhere(mail: Message) -> None:
    # Given a real click link, the same with the URL swapped, and links signed with another salt
    real = tracking.click_url(mail.pk, "https://saomai.edu.vn/")
    token = path(real).removeprefix("/m/c/")
    forged = tracking.sign(tracking.CLICK, [mail.pk, "https://evil.example/"])[:-3] + "abc"
    other_salt = tracking.sign(tracking.OPEN, [mail.pk, "https://evil.example/"])
    evil_payload = tracking.sign(tracking.CLICK, [mail.pk, "https://evil.example/"]).split(":")[0]
    tampered = evil_payload + ":" + token.split(":")[1]  # the real signature under another URL
    # When they are followed, then none redirects and nothing is recorded
    for bad in (forged, other_salt, tampered, "not-a-token"):
        response = Client().get(f"/m/c/{bad}")
        assert response.status_code == 404, bad
    assert Client().get("/m/o/forged.gif").status_code == 404
    assert Client().get(f"/m/o/{tracking.sign(tracking.CLICK, mail.pk)}.gif").status_code == 404
    assert (events("email_clicked"), events("email_opened")) == ([], [])
    # And a signed link to something that is not a web page is refused too
    assert Client().get(path(tracking.click_url(mail.pk, "javascript:alert(1)"))).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_one_click_unsubscribe_from_the_header(an: Contact, mail: Message) -> None:
    # Given a queued email and the List-Unsubscribe URL of An's email
    url = path(tracking.unsubscribe_url(an.pk, "email"))
    # When a mail client posts the one-click request (RFC 8058), without any CSRF token
    response = Client(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})
    # Then email consent is withdrawn with its source and time, the address suppressed, the timeline told
    assert response.status_code == 200
    latest = Consent.objects.filter(contact=an, channel="email").order_by("-at", "-id").first()
    assert latest is not None
    assert (latest.granted, latest.source, latest.at) == (False, "unsubscribe link", clock.now())
    assert list(Suppression.objects.values_list("channel", "address", "reason")) == [
        ("email", "an@example.vn", "unsubscribe")
    ]
    assert events("unsubscribed") == [{"channel": "email", "source": "unsubscribe link"}]
    # And the queued email will not go, and a new one is refused
    mail.refresh_from_db()
    assert (mail.status, mail.reason) == ("refused", "no_consent")
    assert send(an, channel="email", key="m2", subject="s", body="b").reason == "no_consent"
    # And posting again changes nothing
    Client().post(url, {"List-Unsubscribe": "One-Click"})
    assert len(events("unsubscribed")) == 1


def test_the_preference_page_per_channel(an: Contact) -> None:
    url = path(tracking.unsubscribe_url(an.pk, "sms"))
    # When An opens the link of an SMS, then the page offers to stop SMS and shows all three channels on
    html = Client().get(url).content.decode()
    assert "Ngừng nhận tin nhắn qua SMS?" in html
    for channel in ("email", "sms", "zalo"):
        assert f'<input type="checkbox" name="{channel}" checked>' in html
    # When he keeps only email
    html = Client().post(url, {"email": "on"}).content.decode()
    # Then SMS and Zalo are withdrawn, and the page says so
    assert "Bạn sẽ không nhận tin nhắn qua SMS nữa." in html
    assert '<input type="checkbox" name="zalo" >' in html
    assert sorted(str(e["channel"]) for e in events("unsubscribed")) == ["sms", "zalo"]
    assert send(an, channel="sms", key="s", body="x").reason == "no_consent"
    # And he can take SMS back: consent again, his phone freed
    Client().post(url, {"email": "on", "sms": "on"})
    assert not Suppression.objects.filter(channel="sms").exists()
    latest = Consent.objects.filter(contact=an, channel="sms").order_by("-at", "-id").first()
    assert latest is not None and (latest.granted, latest.source) == (True, "preferences page")


def test_a_bad_unsubscribe_token_is_404(an: Contact) -> None:
    token = path(tracking.unsubscribe_url(an.pk, "email")).removeprefix("/m/u/")
    assert Client().post(f"/m/u/{token}x", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert Client().get(f"/m/u/{tracking.sign(tracking.UNSUBSCRIBE, [an.pk, 'fax'])}").status_code == 404
    assert Consent.objects.filter(source="unsubscribe link").count() == 0
