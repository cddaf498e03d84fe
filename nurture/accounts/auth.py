"""API authentication: an API key (Bearer or X-API-Key), or the logged-in session for the web UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from nurture.accounts.models import ApiKey, User
from nurture.core import clock, revisions

REVISION = "api-keys"
# Writing last_used_at on every call would add a write per request; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def _live_keys() -> dict[str, ApiKey]:
    """The unrevoked keys by hash, held per process: creating or revoking one changes the revision in its
    transaction (core.revisions), and every request checks the revision, so a revoked key stops at once."""
    return revisions.snapshot(REVISION, lambda: {k.key_hash: k for k in ApiKey.objects.filter(revoked_at__isnull=True)})


def watch() -> None:
    revisions.watch(REVISION, ApiKey)


def _lookup(raw_key: str) -> ApiKey | None:
    key = _live_keys().get(ApiKey.hash(raw_key))
    if key is None:
        return None
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # no signal: the held keys stay held
        key.last_used_at = now
    return key


class BearerKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return _lookup(token)


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        return _lookup(key) if key else None


AUTH = [BearerKey(), HeaderKey(), SessionAuth()]

ROLE_SCOPES: dict[str, set[str]] = {
    User.Role.ADMIN: set(ApiKey.Scope.values),
    User.Role.MANAGER: set(ApiKey.Scope.values),
    User.Role.MARKETER: set(ApiKey.Scope.values),
    User.Role.SALES_REP: set(ApiKey.Scope.values)
    - {
        ApiKey.Scope.SCORING_WRITE,
        ApiKey.Scope.SEGMENTS_WRITE,
        ApiKey.Scope.LIFECYCLE_WRITE,
        ApiKey.Scope.AVAILABILITY_WRITE,
        ApiKey.Scope.ROUTING_WRITE,
        ApiKey.Scope.MESSAGING_WRITE,
        ApiKey.Scope.JOURNEYS_WRITE,
        ApiKey.Scope.ATTRIBUTION,
        ApiKey.Scope.SALES_CONFIGURE,
    },
    User.Role.CARE_AGENT: {
        ApiKey.Scope.CONTACTS_READ,
        ApiKey.Scope.CONTACTS_WRITE,
        ApiKey.Scope.EVENTS_WRITE,
        ApiKey.Scope.SALES_WRITE,
    },
}


def require_scope(request: HttpRequest, scope: str) -> None:
    principal: Any = request.auth  # type: ignore[attr-defined]
    if isinstance(principal, ApiKey):
        allowed = scope in principal.scopes
    else:
        allowed = principal.is_superuser or scope in ROLE_SCOPES.get(principal.role, set())
    if not allowed:
        raise HttpError(403, f"this key or user lacks the scope {scope}")


def acting_user(request: HttpRequest) -> User | None:
    principal: Any = request.auth  # type: ignore[attr-defined]
    return principal if isinstance(principal, User) else principal.created_by
