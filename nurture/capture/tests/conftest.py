"""Real parts for the connector tests: a loopback server speaking the Graph API (lead retrieval, a form's
leads, the page) and Zalo's OAuth and OA endpoints; helpers that sign webhooks as the providers do. Tracking's:
an allowed website, and batches as the snippet sends them."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from pytest_django.fixtures import Settings

from nurture.capture import tracking
from nurture.capture.actions import save_tracked_site
from nurture.capture.models import Connection, TrackedSite
from nurture.core import clock

PAGE_TOKEN = "page-token-123"
ZALO_APP_SECRET = "zalo-app-secret"
GRAPH_VERSION = "/v21.0"
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
def _english(settings: Settings) -> Iterator[None]:
    """The assertions read the English texts; pages are in Vietnamese by default."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@dataclass
class Provider:
    """Graph API and Zalo on one loopback server. `failures` answers that many calls with HTTP 500."""

    url: str = ""
    failures: int = 0
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    zalo_access: str = "zalo-access-1"
    zalo_refresh: str = "zalo-refresh-1"
    refreshes: int = 0

    def lead(self, leadgen_id: str, created: str, form_id: str = "444", **fields: str) -> dict[str, Any]:
        self.leads[leadgen_id] = {
            "id": leadgen_id, "created_time": created, "form_id": form_id, "ad_id": "111", "ad_name": "Ad IELTS",
            "adset_id": "222", "adset_name": "Hà Nội 18-25", "campaign_id": "333", "campaign_name": "IELTS tháng 3",
            "platform": "fb", "field_data": [{"name": k, "values": [v]} for k, v in fields.items()],
        }  # fmt: skip
        return self.leads[leadgen_id]

    def paths(self, method: str = "") -> list[str]:
        return [path for m, path, _, _ in self.calls if not method or m == method]


def _graph(state: Provider, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if query.get("access_token") != PAGE_TOKEN:
        return 400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}
    parts = path.removeprefix(GRAPH_VERSION).strip("/").split("/")
    if len(parts) == 2 and parts[1] == "leads":
        since, until = 0, 0
        for rule in json.loads(query.get("filtering", "[]")):
            if rule["operator"] == "GREATER_THAN":
                since = rule["value"]
            if rule["operator"] == "LESS_THAN":
                until = rule["value"]
        matching = sorted(
            (lead for lead in state.leads.values() if lead["form_id"] == parts[0]
             and since < datetime.strptime(lead["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp() < until),
            key=lambda lead: lead["id"],
        )  # fmt: skip
        start, limit = int(query.get("after") or 0), int(query.get("limit", 25))
        page: dict[str, Any] = {"data": matching[start : start + limit]}
        if start + limit < len(matching):
            page["paging"] = {"cursors": {"after": str(start + limit)}, "next": "https://graph.example/next"}
        return 200, page
    if parts[0] in state.leads:
        return 200, state.leads[parts[0]]
    if parts[0] == "999":
        return 200, {"id": "999", "name": "Anh ngữ Sao Mai"}
    return 400, {"error": {"message": "Unsupported get request.", "code": 100}}


def _zalo(state: Provider, method: str, path: str, headers: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
    if path == "/v4/oa/access_token":
        if headers.get("secret_key") != ZALO_APP_SECRET or form.get("refresh_token") != state.zalo_refresh:
            return {"error": -14014, "error_name": "Invalid refresh token", "error_description": "refresh token used"}
        state.refreshes += 1
        state.zalo_access, state.zalo_refresh = (
            f"zalo-access-{state.refreshes + 1}",
            f"zalo-refresh-{state.refreshes + 1}",
        )
        return {"access_token": state.zalo_access, "refresh_token": state.zalo_refresh, "expires_in": "90000"}
    if headers.get("access_token") != state.zalo_access:
        return {"error": -216, "message": "Access token is invalid"}
    if path == "/v2.0/oa/getoa":
        return {"error": 0, "message": "Success", "data": {"oa_id": "oa-1", "name": "Sao Mai OA"}}
    if path == "/v3.0/oa/message/cs":
        return {"error": 0, "message": "Success", "data": {"message_id": "oa-msg-1"}}
    return {"error": -1, "message": f"unknown path {path}"}


@pytest.fixture
def provider(settings: Settings) -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = dict(urllib.parse.parse_qsl(raw)) if "urlencoded" in self.headers.get("Content-Type", "") else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.calls.append((method, parsed.path, query, {**headers, **form}))
            if state.failures:
                state.failures -= 1
                status, answer = 500, {"error": {"message": "An unexpected error has occurred.", "code": 2}}
            elif parsed.path.startswith(GRAPH_VERSION):
                status, answer = _graph(state, parsed.path, query)
            else:
                status, answer = 200, _zalo(state, method, parsed.path, headers, form)
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.NURTURE_FACEBOOK_GRAPH_URL = state.url + GRAPH_VERSION
    settings.NURTURE_ZALO_OAUTH_URL = settings.NURTURE_ZALO_OA_URL = state.url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def connect(channel: str, **fields: Any) -> Connection:
    now = clock.now()
    return Connection.objects.create(channel=channel, name=fields.pop("name", channel), created_at=now,
                                     updated_at=now, **fields)  # fmt: skip


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
