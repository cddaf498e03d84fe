"""A notice by email: plain text and simple HTML, in the site's language, through Django's EMAIL_* settings."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from nurture.notifications.actions import absolute_url, lead_payload
from nurture.notifications.models import Notification


def render(notice: Notification) -> tuple[str, str, str]:
    """(subject, text, html) of a notice's email."""
    with translation.override(settings.LANGUAGE_CODE):
        contact = notice.contact
        context = {
            "notice": notice,
            "lead": lead_payload(contact) if contact is not None else None,
            "band": contact.get_band_display() if contact is not None else "",
            "url": absolute_url(notice.url),
        }
        text = render_to_string("notifications/email/notice.txt", context)
        html = render_to_string("notifications/email/notice.html", context)
    return notice.title, text, html


def send(notice: Notification) -> bool:
    """Email the notice to its user; False when there is no one to send to (no address, deactivated)."""
    user = notice.user
    if not (user.is_active and user.email):
        return False
    subject, text, html = render(notice)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    # An SMTP error propagates: the job is retried with back-off.
    message.send(fail_silently=False)
    return True
