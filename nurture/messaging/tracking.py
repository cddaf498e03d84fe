"""Signed links in messages: the open pixel, tracked clicks and the unsubscribe page.

Each link carries its data inside a django.core.signing signature (no expiry: an email read next year still
works). The click redirect goes only to the URL inside the signature, so it can never be an open redirect.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core import signing
from django.urls import reverse
from django.utils.html import escape, linebreaks, urlize

from nurture.notifications.actions import absolute_url

OPEN, CLICK, UNSUBSCRIBE = "messaging.open", "messaging.click", "messaging.unsubscribe"
_HREF = re.compile(r'href="(https?://[^"]+)"')


def sign(salt: str, value: Any) -> str:
    return signing.Signer(salt=salt).sign_object(value, compress=True)


def unsign(salt: str, token: str) -> Any:
    """The signed value, or None for a tampered or forged token."""
    try:
        return signing.Signer(salt=salt).unsign_object(token)
    except signing.BadSignature:
        return None


def unsubscribe_url(contact_id: int, channel: str) -> str:
    return absolute_url(reverse("messaging:unsubscribe", args=[sign(UNSUBSCRIBE, [contact_id, channel])]))


def open_url(message_id: int) -> str:
    return absolute_url(reverse("messaging:open", args=[sign(OPEN, message_id)]))


def click_url(message_id: int, url: str) -> str:
    return absolute_url(reverse("messaging:click", args=[sign(CLICK, [message_id, url])]))


def is_web_url(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)


def email_html(message_id: int, text: str, unsubscribe: str) -> str:
    """The HTML part of an email written as text: paragraphs, links tracked, the open pixel, unsubscribe at the end.

    The unsubscribe link is left untracked: following it must work even where tracking is blocked.
    """
    html = linebreaks(urlize(escape(text), nofollow=False, autoescape=False), autoescape=False)

    def track(match: re.Match[str]) -> str:
        url = match.group(1).replace("&amp;", "&")
        if url == unsubscribe:
            return match.group(0)
        return f'href="{escape(click_url(message_id, url))}"'

    html = _HREF.sub(track, html)
    pixel = f'<img src="{escape(open_url(message_id))}" width="1" height="1" alt="" style="display:none">'
    return f"<!doctype html>\n<html><body>\n{html}\n{pixel}\n</body></html>\n"
