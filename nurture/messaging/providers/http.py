"""JSON over HTTP for the providers (SMS, Zalo, Facebook's Graph API; urllib: no redirects followed, a timeout on
every call)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings

ERROR_SNIPPET = 300


class ProviderError(RuntimeError):
    """The provider refused the message or could not be reached; the job retries with back-off."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a moved API is an error to see, not a place to post a message to


_opener = urllib.request.build_opener(_NoRedirects())


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return _call(urllib.request.Request(url, data=raw, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Accept": "application/json", **(headers or {}),
    }))  # fmt: skip


def post_form(url: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = urllib.parse.urlencode(fields).encode()
    return _call(urllib.request.Request(url, data=raw, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **(headers or {}),
    }))  # fmt: skip


def get_json(url: str, params: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    full = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}" if params else url
    return _call(urllib.request.Request(full, method="GET", headers={"Accept": "application/json", **(headers or {})}))


def _call(request: urllib.request.Request) -> dict[str, Any]:
    try:
        with _opener.open(request, timeout=settings.NURTURE_MESSAGING_HTTP_TIMEOUT) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        snippet = " ".join(exc.read(ERROR_SNIPPET * 4).decode("utf-8", "replace").split())[:ERROR_SNIPPET]
        raise ProviderError(f"HTTP {exc.code}: {snippet}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timed out, TLS
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ProviderError(f"{type(reason).__name__}: {reason}") from None
    try:
        answer = json.loads(text)
    except ValueError:
        raise ProviderError(f"not JSON: {text[:ERROR_SNIPPET]}") from None
    if not isinstance(answer, dict):
        raise ProviderError(f"unexpected answer: {text[:ERROR_SNIPPET]}")
    return answer
