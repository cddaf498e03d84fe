"""SMS through eSMS.vn's JSON API (SendMultipleMessage_V4_post_json), with a brandname.

The message's key is the RequestId, which eSMS uses to refuse a duplicate: a job retried after a send whose
answer was lost does not text the person twice. Delivery receipts come back to /hooks/sms/esms (hooks.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from nurture.messaging.models import Message
from nurture.messaging.providers.http import ProviderError, post_json
from nurture.notifications.actions import absolute_url

PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SUCCESS = "100"


def callback_url() -> str:
    query = urlencode({"secret": settings.NURTURE_ESMS_WEBHOOK_SECRET})
    return absolute_url(reverse("messaging:esms_hook")) + "?" + query


def send(message: Message) -> str:
    body = {
        "ApiKey": settings.NURTURE_ESMS_API_KEY,
        "SecretKey": settings.NURTURE_ESMS_SECRET_KEY,
        "Phone": message.address.lstrip("+"),  # E.164 without the plus: 84912345678
        "Content": message.body,
        "Brandname": settings.NURTURE_ESMS_BRANDNAME,
        "SmsType": settings.NURTURE_ESMS_SMS_TYPE,
        "IsUnicode": "0" if message.body.isascii() else "1",
        "RequestId": message.idempotency_key,
        "CallbackUrl": callback_url(),
    }
    answer = post_json(settings.NURTURE_ESMS_URL.rstrip("/") + PATH, body)
    if str(answer.get("CodeResult")) != SUCCESS:
        raise ProviderError(f"eSMS {answer.get('CodeResult')}: {answer.get('ErrorMessage', '')}")
    return str(answer.get("SMSID", ""))
