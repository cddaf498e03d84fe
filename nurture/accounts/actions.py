from __future__ import annotations

import secrets

from django.db import transaction

from nurture.accounts import auth
from nurture.accounts.models import ApiKey, User
from nurture.core import clock, revisions

KEY_PREFIX = "nur_"


def create_api_key(*, name: str, scopes: list[str], created_by: User | None) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored."""
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=raw[: len(KEY_PREFIX) + 6],
            key_hash=ApiKey.hash(raw),
            scopes=sorted(set(scopes)),
            created_by=created_by,
            created_at=clock.now(),
        )
    return key, raw


def revoke_api_key(key: ApiKey) -> None:
    with transaction.atomic():
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=clock.now())
        revisions.bump(auth.REVISION)  # an update sends no signal: the processes holding the key drop it
    key.refresh_from_db()
