"""Website tracking: the public endpoint's lean intake, and the worker step that turns staged events into
anonymous contacts, page views on timelines and stitched identities.

The request path only validates a batch and inserts it into `StagedEvent` (one statement); everything that
needs the contact model (identity lookups, scoring, lifecycle rules) runs in the worker, in batches.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from nurture.capture.models import StagedEvent, TrackedSite
from nurture.contacts.actions import CaptureResult, after_change, capture_leads, change_stage
from nurture.contacts.leads import FieldError, InvalidLead, LeadInput, parse_lead
from nurture.contacts.models import Contact, Event, Identity
from nurture.lifecycle import stages
from nurture.lifecycle.models import Stage, StageChange

log = logging.getLogger(__name__)

# What the snippet generates: 22 URL-safe characters (128 random bits); other clients may send up to 64.
ANONYMOUS_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_EVENTS = 50
MAX_BODY_BYTES = 64 * 1024
URL_MAX = 2000
TITLE_MAX = 300
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
UTM_MAX = 200
# A client's clock may be wrong: an event's time is the server's receipt minus how long the browser held it,
# and a browser holds events at most this long.
MAX_HELD = timedelta(days=1)
SITE_CACHE_SECONDS = 30.0
SOURCE_LABEL = "website"
PROCESS_BATCH = 500
MAX_ATTEMPTS = 5

SEARCH_ENGINES = ("google", "bing", "coccoc", "yahoo", "duckduckgo", "yandex", "baidu")
SOCIAL_NETWORKS = ("facebook", "zalo", "tiktok", "youtube", "instagram", "linkedin", "twitter", "threads")


# --- allowed sites -----------------------------------------------------------------------------------------


class _SiteCache:
    """The active sites' origins, read at most every SITE_CACHE_SECONDS per process: the endpoint must not
    query for them on every request. Changes made in this process apply at once (`forget`)."""

    def __init__(self) -> None:
        self.read_at = -SITE_CACHE_SECONDS
        self.sites: dict[str, bool] = {}

    def get(self) -> dict[str, bool]:
        now = time.monotonic()
        if now - self.read_at >= SITE_CACHE_SECONDS:
            self.sites = dict(TrackedSite.objects.filter(is_active=True).values_list("origin", "require_consent"))
            self.read_at = now
        return self.sites

    def forget(self) -> None:
        self.read_at = -SITE_CACHE_SECONDS


site_cache = _SiteCache()


def normalise_origin(raw: str) -> str:
    """`https://www.Example.vn/` -> `https://www.example.vn`; raises ValueError for anything not an origin."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(_("an origin is http:// or https:// followed by the host, e.g. https://www.example.vn"))
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(_("an origin has no path, query or user: e.g. https://www.example.vn"))
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


# --- rate limit --------------------------------------------------------------------------------------------


class _RateLimiter:
    """Requests per client address per minute, counted in this process (no database write per request).

    With N web processes a client may reach N times the limit; a browser sends a batch every few seconds
    at most, so the limit only stops floods.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.minute = 0
        self.counts: dict[str, int] = {}

    def hit(self, ip: str, limit: int) -> bool:
        """Count a request; True when the address is over its limit this minute."""
        if limit <= 0:
            return False
        minute = int(time.time() // 60)
        with self.lock:
            if minute != self.minute:
                self.minute, self.counts = minute, {}
            count = self.counts.get(ip, 0) + 1
            self.counts[ip] = count
        return count > limit


rate_limiter = _RateLimiter()


# --- intake (the request path) -----------------------------------------------------------------------------


def _text(value: Any, limit: int, loc: str, errors: list[FieldError], *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors.append(FieldError(loc, "required", _("this field is required")))
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(loc, "invalid", _("must be text")))
        return ""
    if len(value) > limit or "\x00" in value:
        errors.append(FieldError(loc, "too_long", _("at most %(n)d characters, no NUL") % {"n": limit}))
        return ""
    return value


def _http_url(value: str, loc: str, errors: list[FieldError]) -> str:
    if value and urlsplit(value).scheme not in ("http", "https"):
        errors.append(FieldError(loc, "invalid", _("must be an http(s) address")))
        return ""
    return value


def _millis(value: Any, loc: str, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e14:
        errors.append(FieldError(loc, "invalid", _("milliseconds since 1970")))
        return None
    return int(value)


def parse_batch(body: bytes, *, origin: str, require_consent: bool, received_at: datetime) -> list[StagedEvent]:
    """Validate a batch from the snippet; raise InvalidLead naming every bad field (`events.3.url`)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidLead([FieldError("body", "invalid_json", _("the body is not JSON"))]) from None
    if not isinstance(data, dict):
        raise InvalidLead([FieldError("body", "invalid", _("an object with anonymous_id and events"))])
    errors: list[FieldError] = []
    anonymous_id = data.get("anonymous_id")
    if not isinstance(anonymous_id, str) or not ANONYMOUS_ID.fullmatch(anonymous_id):
        anonymous_id = ""
        errors.append(FieldError("anonymous_id", "invalid", _("16 to 64 letters, digits, - or _")))
    if require_consent and data.get("consent") is not True:
        errors.append(FieldError("consent", "required", _("this site records visits only with the visitor's consent")))
    events = data.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        errors.append(FieldError("events", "size", _("a list of 1 to %(n)d events") % {"n": MAX_EVENTS}))
        events = []
    sent_at = _millis(data.get("sent_at"), "sent_at", errors)
    rows = []
    for i, event in enumerate(events):
        loc = f"events.{i}"
        if not isinstance(event, dict):
            errors.append(FieldError(loc, "invalid", _("an object")))
            continue
        ts = _millis(event.get("ts"), f"{loc}.ts", errors)
        held = timedelta(milliseconds=sent_at - ts) if sent_at is not None and ts is not None else timedelta(0)
        at = received_at - min(max(held, timedelta(0)), MAX_HELD)
        kind = event.get("type")
        if kind == StagedEvent.Kind.PAGE:
            payload = _page_payload(event, loc, errors)
        elif kind == StagedEvent.Kind.IDENTIFY:
            payload = _identify_payload(event, loc, errors)
        else:
            errors.append(FieldError(f"{loc}.type", "invalid", _("page or identify")))
            continue
        rows.append(
            StagedEvent(
                kind=kind, anonymous_id=anonymous_id, origin=origin, at=at, received_at=received_at, payload=payload
            )
        )
    if errors:
        raise InvalidLead(errors)
    return rows


def _page_payload(event: dict[str, Any], loc: str, errors: list[FieldError]) -> dict[str, Any]:
    url = _http_url(_text(event.get("url"), URL_MAX, f"{loc}.url", errors, required=True), f"{loc}.url", errors)
    referrer = _http_url(_text(event.get("referrer"), URL_MAX, f"{loc}.referrer", errors), f"{loc}.referrer", errors)
    payload: dict[str, Any] = {"url": url, "title": _text(event.get("title"), TITLE_MAX, f"{loc}.title", errors)}
    if referrer:
        payload["referrer"] = referrer
    utm = event.get("utm") or {}
    if not isinstance(utm, dict) or set(utm) - set(UTM_KEYS):
        errors.append(FieldError(f"{loc}.utm", "invalid", _("an object with source, medium, campaign, term, content")))
    else:
        clean = {k: _text(v, UTM_MAX, f"{loc}.utm.{k}", errors) for k, v in utm.items()}
        if any(clean.values()):
            payload["utm"] = {k: v for k, v in clean.items() if v}
    return payload


def _identify_payload(event: dict[str, Any], loc: str, errors: list[FieldError]) -> dict[str, Any]:
    traits = event.get("traits")
    if not isinstance(traits, dict):
        errors.append(FieldError(f"{loc}.traits", "invalid", _("an object: email, phone, full_name ...")))
        return {}
    try:
        parse_lead(traits)
    except InvalidLead as exc:
        errors.extend(FieldError(f"{loc}.traits.{e.field}", e.code, e.message) for e in exc.errors)
    except (TypeError, ValueError):
        errors.append(FieldError(f"{loc}.traits", "invalid", _("an object: email, phone, full_name ...")))
    return {"traits": traits}


def ingest(rows: Sequence[StagedEvent]) -> int:
    """Stage a validated batch: one INSERT. The worker takes it from here."""
    StagedEvent.objects.bulk_create(rows)
    return len(rows)


# --- stitching (forms, the capture API, identify calls) ----------------------------------------------------


def capture_and_stitch(leads: Sequence[LeadInput], **options: Any) -> list[CaptureResult]:
    """Capture leads; a lead carrying a website visitor's anonymous id takes that visitor's history.

    In one transaction: the capture, then for each such lead either the anonymous contact is merged into
    the contact the lead landed on (the identity app's merge: page views, score and first touch move), or,
    when the lead landed on the visitor's own contact, that contact leaves the Anonymous stage.
    """
    # No savepoint of its own (a round trip each way on every capture): capture_leads has one for its retry, and
    # the callers that go on after a failed capture open theirs (process_inbound, the tracking worker, combining).
    with transaction.atomic(savepoint=False):
        results = capture_leads(leads, **options)
        pairs = {(lead.anonymous_id, r.contact_id) for lead, r in zip(leads, results, strict=True)
                 if lead.anonymous_id and not lead.is_anonymous}  # fmt: skip
        for anonymous_id, contact_id in sorted(pairs):
            stitch(anonymous_id, contact_id)
    return results


def stitch(anonymous_id: str, contact_id: int) -> None:
    """Give the visitor known by `anonymous_id` to the identified contact `contact_id`."""
    from nurture.identity.actions import MergeError, merge_contacts  # identity's actions import the contacts layer

    holder = (
        Identity.objects.filter(kind=Identity.Kind.ANONYMOUS, value=anonymous_id)
        .values_list("contact_id", flat=True)
        .first()
    )
    anonymous_stage, entry_stage = stages.entry_stage_id(anonymous=True), stages.entry_stage_id()
    if holder == contact_id:
        contact = Contact.objects.get(pk=contact_id)
        if contact.stage_id == anonymous_stage != entry_stage:
            change_stage(
                contact, to_stage=Stage.objects.select_related("stage_set").get(pk=entry_stage),
                cause=StageChange.Cause.CAPTURE, reason=_("Identified on the website"),
            )  # fmt: skip
            # Rules that wait for a lead (its points may already make it an MQL); a new lead: routing assigns it.
            after_change([contact_id], new_leads=[contact_id])
        return
    if holder is None:
        return  # the visitor's page views are still staged: the worker will find this contact by the id
    kinds = set(Identity.objects.filter(contact_id=holder).values_list("kind", flat=True))
    visitor = Contact.objects.get(pk=holder)
    # A browser shared by two known people keeps each one's history: only an anonymous visitor is merged.
    if kinds == {Identity.Kind.ANONYMOUS} and visitor.merged_into_id is None:
        try:
            merge_contacts(Contact.objects.get(pk=contact_id), visitor, actor=None)
        except MergeError:
            # Someone undid this stitch before (the pair is marked not the same person): the lead still counts.
            log.info("visitor %s stays apart from contact %s", holder, contact_id)


# --- the worker step ---------------------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def referrer_source(referrer: str, url: str) -> tuple[str, str]:
    """(source, medium) of a visit with no UTM tags, from where the visitor came; ("", "") if internal."""
    host = _host(referrer)
    if not host or host == _host(url):
        return "", ""
    labels = host.split(".")
    for name in SEARCH_ENGINES:
        if name in labels:
            return name, "organic"
    for name in SOCIAL_NETWORKS:
        if name in labels or (name == "facebook" and "fb" in labels):
            return name, "social"
    return host.removeprefix("www."), "referral"


def page_lead(row: StagedEvent) -> LeadInput:
    payload = row.payload
    url, referrer = payload["url"], payload.get("referrer", "")
    utm = payload.get("utm") or {}
    external = referrer if referrer and _host(referrer) != _host(url) else ""
    lead = LeadInput(anonymous_id=row.anonymous_id, landing_url=url[:500], referrer=external[:500], occurred_at=row.at)
    if utm:
        for key in UTM_KEYS:
            setattr(lead, key, utm.get(key, ""))
    else:
        lead.source, lead.medium = referrer_source(external, url)
    lead.event_data = {"url": url, "title": payload.get("title", ""), "site": row.origin}
    if referrer:
        lead.event_data["referrer"] = referrer
    return lead


def identify_lead(row: StagedEvent) -> LeadInput:
    lead = parse_lead({**row.payload["traits"], "anonymous_id": row.anonymous_id})
    lead.occurred_at = row.at
    lead.event_data = {"site": row.origin}
    return lead


def record_staged(rows: Sequence[StagedEvent]) -> None:
    """Page views first (a new visitor becomes an anonymous contact), then identify calls, which stitch."""
    pages = [page_lead(r) for r in rows if r.kind == StagedEvent.Kind.PAGE]
    identified = [identify_lead(r) for r in rows if r.kind == StagedEvent.Kind.IDENTIFY]
    if pages:
        capture_leads(pages, event_type=Event.Type.PAGE_VIEWED, cause=StageChange.Cause.CAPTURE,
                      source_label=SOURCE_LABEL)  # fmt: skip
    if identified:
        capture_and_stitch(identified, event_type=Event.Type.IDENTIFIED, cause=StageChange.Cause.CAPTURE,
                           source_label=SOURCE_LABEL)  # fmt: skip


def process_staged_events(*, limit: int = PROCESS_BATCH) -> bool:
    """One worker step: claim a batch of staged events, record them and delete them in one transaction.

    A crash anywhere rolls the whole batch back, so the rows are claimed again. A batch that fails is
    retried row by row, so one bad row is set aside (counted, shown on the tracking page) and the rest go
    through. Returns whether there was work.
    """
    with transaction.atomic():
        rows = list(
            StagedEvent.objects.filter(attempts__lt=MAX_ATTEMPTS)
            .order_by("id")
            .select_for_update(skip_locked=True)[:limit]
        )
        if not rows:
            return False
        try:
            with transaction.atomic():
                record_staged(rows)
            done = [r.pk for r in rows]
        except Exception:  # noqa: BLE001 - isolate the bad row(s) below instead of wedging the worker
            log.exception("staged events %s..%s failed as a batch; retrying one by one", rows[0].pk, rows[-1].pk)
            done = _one_by_one(rows)
        StagedEvent.objects.filter(pk__in=done).delete()
    return True


def _one_by_one(rows: Sequence[StagedEvent]) -> list[int]:
    done = []
    for row in rows:
        try:
            with transaction.atomic():
                record_staged([row])
            done.append(row.pk)
        except Exception as exc:  # noqa: BLE001 - counted on the row, which stays visible
            log.exception("staged event %s failed", row.pk)
            StagedEvent.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
    return done


def pending_counts() -> dict[str, int]:
    waiting = StagedEvent.objects.filter(attempts__lt=MAX_ATTEMPTS).count()
    return {"waiting": waiting, "failed": StagedEvent.objects.count() - waiting}


def retry_failed() -> int:
    """Give set-aside rows another round of attempts (after the cause was fixed)."""
    return StagedEvent.objects.filter(attempts__gte=MAX_ATTEMPTS).update(attempts=0, last_error="")


def client_limit() -> int:
    return int(settings.NURTURE_TRACKING_RATE_LIMIT)
