"""How a message leaves: one module per provider, each a `send(message) -> provider id` that raises on failure."""

from __future__ import annotations

from collections.abc import Callable

from nurture.messaging.models import Message
from nurture.messaging.providers import email, esms, zalo

SENDERS: dict[str, Callable[[Message], str]] = {
    Message.Route.EMAIL: email.send,
    Message.Route.SMS: esms.send,
    Message.Route.ZALO_OA: zalo.send_oa,
    Message.Route.ZALO_ZNS: zalo.send_zns,
}


def send(message: Message) -> str:
    return SENDERS[message.route](message)
