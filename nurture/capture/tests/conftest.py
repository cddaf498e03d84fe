"""Tracking fixtures: an allowed website, batches as the snippet sends them, and the English texts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from nurture.capture import tracking
from nurture.capture.actions import save_tracked_site
from nurture.capture.models import TrackedSite

SITE = "https://www.saomai.edu.vn"
_visitors = count(1)


@pytest.fixture(autouse=True)
def _fresh_tracking_state() -> Iterator[None]:
    # Allowed origins and request counts are kept per process; each test starts from its own database.
    tracking.site_cache.forget()
    tracking.rate_limiter.counts.clear()
    yield
    tracking.site_cache.forget()


@pytest.fixture
def _english(settings: Any) -> Iterator[None]:
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def site(db: Any) -> TrackedSite:
    return save_tracked_site(TrackedSite(), origin=SITE, require_consent=False)


def visitor_id() -> str:
    return f"visitor-{next(_visitors):04d}-abcdefghijk"


def page(url: str, *, title: str = "", referrer: str = "", ts: int = 1_000_000, **utm: str) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "page", "url": url, "title": title, "referrer": referrer, "ts": ts}
    if utm:
        event["utm"] = utm
    return event


def send(client: Client, anonymous_id: str, events: list[dict[str, Any]], *, origin: str = SITE,
         **extra: Any) -> Any:  # fmt: skip
    body = {"anonymous_id": anonymous_id, "sent_at": 1_000_000, "events": events, **extra}
    # sendBeacon posts text/plain: no CORS preflight.
    return client.post("/t/collect", data=json.dumps(body), content_type="text/plain", headers={"Origin": origin})
