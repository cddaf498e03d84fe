"""A notice POSTed as signed JSON to a webhook channel (a Zalo bot relay, Slack or Google Chat, any chat tool).

The body is signed with HMAC-SHA256 and the channel's secret (X-Nurture-Signature: sha256=<hex>), so the
receiver can check that it comes from this Nurture and was not changed. Redirects are not followed: a moved
endpoint is reported as an error instead of receiving the notice somewhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from nurture.core import clock
from nurture.notifications.actions import absolute_url, lead_payload
from nurture.notifications.models import Notification, WebhookChannel

TIMEOUT_SECONDS = 5
ERROR_SNIPPET = 300  # characters of a failing endpoint's answer kept on the channel
USER_AGENT = "Nurture-Webhook/1"


class WebhookFailed(RuntimeError):
    """The endpoint did not answer 2xx; the job is retried with back-off."""


def sign(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def payload(notice: Notification) -> dict[str, Any]:
    """What receivers get: the fields documented in docs/notifications.md (add fields, never rename)."""
    contact = notice.contact
    return {
        "id": notice.pk,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "url": absolute_url(notice.url),
        "user": {"username": notice.user.username, "name": notice.user.display_name, "email": notice.user.email},
        "lead": lead_payload(contact) if contact is not None else None,
        "sent_at": clock.now().isoformat(),
    }


def sample_payload(channel: WebhookChannel, actor_name: str) -> dict[str, Any]:
    return {
        "id": None,
        "kind": Notification.Kind.INFO.value,
        "title": _("Test from Nurture"),
        "body": _("%(user)s sent this test to the channel “%(channel)s”.") % {"user": actor_name, "channel": channel},
        "url": absolute_url("/notifications/"),
        "user": None,
        "lead": None,
        "sent_at": clock.now().isoformat(),
        "test": True,
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirects())


def send(channel: WebhookChannel, body: dict[str, Any]) -> int:
    """POST `body` to the channel and record the outcome on it; returns the HTTP status, raises WebhookFailed."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    status: int | None = None
    error = ""
    if urlsplit(channel.url).scheme not in ("http", "https"):
        error = f"not an http(s) URL: {channel.url!r}"
    else:
        request = urllib.request.Request(channel.url, data=raw, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Nurture-Event": str(body["kind"]),
            "X-Nurture-Signature": sign(channel.secret, raw),
        })  # fmt: skip
        try:
            with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}: {_snippet(exc)}"
        except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timed out, TLS
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            error = f"{type(reason).__name__}: {reason}"
    if status is not None and not error and not 200 <= status < 300:
        error = f"HTTP {status}"
    # Not in a transaction with anything: the outcome stays on the channel even when the job is retried.
    if error:
        WebhookChannel.objects.filter(pk=channel.pk).update(last_status=status, last_error=error[:2000])
        raise WebhookFailed(f"{channel.name}: {error}")
    WebhookChannel.objects.filter(pk=channel.pk).update(last_status=status, last_error="", last_sent_at=clock.now())
    assert status is not None
    return status


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(ERROR_SNIPPET * 4).decode("utf-8", "replace")
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else ""
    return " ".join(text.split())[:ERROR_SNIPPET] or str(exc.reason)
