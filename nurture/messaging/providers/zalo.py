"""Zalo: ZNS template messages (by phone number) and free-form OA customer-service messages (by Zalo user id).

The ZNS tracking_id is the message's key (hashed when longer than Zalo's 48 characters), so Zalo's callbacks
and a retried send can be matched to the one message.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from nurture.capture.sources.zalo import tokens
from nurture.messaging.models import Message
from nurture.messaging.providers.http import ProviderError, post_json

TRACKING_ID_MAX = 48


def _headers() -> dict[str, str]:
    return {"access_token": tokens.access_token()}


def tracking_id(key: str) -> str:
    return key if len(key) <= TRACKING_ID_MAX else hashlib.sha256(key.encode()).hexdigest()[:TRACKING_ID_MAX]


def _data(answer: dict[str, object]) -> dict[str, object]:
    if answer.get("error") != 0:
        raise ProviderError(f"Zalo {answer.get('error')}: {answer.get('message', '')}")
    data = answer.get("data")
    return data if isinstance(data, dict) else {}


def send_zns(message: Message) -> str:
    body = {
        "phone": message.address.lstrip("+"),  # Zalo wants 84912345678
        "template_id": message.zns_template_id,
        "template_data": message.zns_data,
        "tracking_id": tracking_id(message.idempotency_key),
    }
    answer = post_json(settings.NURTURE_ZALO_ZNS_URL.rstrip("/") + "/message/template", body, _headers())
    return str(_data(answer).get("msg_id", ""))


def send_oa(message: Message) -> str:
    body = {"recipient": {"user_id": message.address}, "message": {"text": message.body}}
    answer = post_json(settings.NURTURE_ZALO_OA_URL.rstrip("/") + "/v3.0/oa/message/cs", body, _headers())
    return str(_data(answer).get("message_id", ""))
