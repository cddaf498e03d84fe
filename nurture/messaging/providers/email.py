"""Email through Django's email backend: SMTP from the settings, or any anymail ESP backend (EMAIL_BACKEND).

A worker keeps one connection open between messages: opening an SMTP session (TCP, TLS, AUTH) per email
would cap a worker at a few dozen emails a second, well under the 250/s a campaign needs. A connection that
fails is closed and dropped, so the next message (or this one, once, after an idle disconnect) opens a fresh one.
"""

from __future__ import annotations

import hashlib
import smtplib
from email.utils import parseaddr

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import translation
from django.utils.translation import gettext as _

from nurture.messaging import tracking
from nurture.messaging.models import Channel, Message
from nurture.messaging.providers.http import ProviderError

_open: tuple[tuple[object, ...], BaseEmailBackend] | None = None


def _connection() -> BaseEmailBackend:
    """This process's open connection; a change of settings (tests, a reload) opens a new one."""
    global _open
    ident = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_USER)
    if _open is not None and _open[0] == ident:
        return _open[1]
    close()
    connection = get_connection(fail_silently=False)
    connection.open()
    _open = (ident, connection)
    return connection


def close() -> None:
    global _open
    if _open is not None:
        try:
            _open[1].close()
        except Exception:  # noqa: BLE001 - closing a connection that already broke may fail; it is gone either way
            pass
        _open = None


def build(message: Message) -> AnymailMessage:
    """The email: text and HTML parts (tracked links, open pixel), and one-click unsubscribe headers (RFC 8058)."""
    unsubscribe = tracking.unsubscribe_url(message.contact_id, Channel.EMAIL)
    text = message.body
    if unsubscribe not in text:
        language = message.template.language if message.template else settings.LANGUAGE_CODE
        with translation.override(language):
            footer = _("Unsubscribe: %(url)s") % {"url": unsubscribe}
        text = f"{text.rstrip()}\n\n-- \n{footer}\n"
    from_email = settings.NURTURE_MESSAGING_FROM_EMAIL
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:16]
    mailto = settings.NURTURE_UNSUBSCRIBE_MAILTO
    headers = {
        # The same id on every attempt: a receiving server can spot a duplicate of an at-least-once send.
        "Message-ID": f"<nurture.{message.pk}.{digest}@{domain}>",
        "List-Unsubscribe": f"<{unsubscribe}>" + (f", <mailto:{mailto}?subject=unsubscribe>" if mailto else ""),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    mail = AnymailMessage(
        message.subject, text, from_email, [message.address], headers=headers,
        # Read by anymail ESP backends only: the ESP's own tracking would wrap links already tracked here.
        metadata={"nurture_message_id": str(message.pk)}, track_clicks=False, track_opens=False,
    )  # fmt: skip
    mail.attach_alternative(tracking.email_html(message.pk, text, unsubscribe), "text/html")
    return mail


def send(message: Message) -> str:
    mail = build(message)
    for attempt in (1, 2):
        try:
            sent = _connection().send_messages([mail])
            break
        except smtplib.SMTPServerDisconnected as exc:
            close()  # the server dropped an idle connection: one more try on a fresh one
            if attempt == 2:
                raise ProviderError(f"SMTPServerDisconnected: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any backend error: drop the connection, the job retries
            close()
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
    if not sent:
        raise ProviderError("the email backend sent nothing")
    # An ESP's id (anymail) where there is one, else the Message-ID given above.
    return str(mail.anymail_status.message_id or mail.extra_headers["Message-ID"])
