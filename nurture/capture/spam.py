"""Spam protection for public forms: honeypot, minimum time to submit, per-IP rate limit."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest

SALT = "nurture.form.ts"


def issue_token() -> str:
    return signing.dumps(time.time(), salt=SALT)


def too_fast(token: str) -> bool:
    """True when the form came back sooner than a person can fill it, or without our token."""
    try:
        issued = float(signing.loads(token, salt=SALT, max_age=24 * 3600))
    except (signing.BadSignature, TypeError, ValueError):
        return True
    return time.time() - issued < settings.NURTURE_FORM_MIN_SECONDS


def client_ip(request: HttpRequest) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return str(request.META.get("REMOTE_ADDR", ""))


def rate_limited(ip: str) -> bool:
    """Count this submission in the IP's current minute; True past the limit."""
    key = f"form-rate:{ip}:{int(time.time() // 60)}"
    if cache.add(key, 1, timeout=120):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        return False
    return count > settings.NURTURE_FORM_RATE_LIMIT
