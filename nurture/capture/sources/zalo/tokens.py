"""The one store of Zalo OA tokens, shared by capture (reading the OA) and messaging (sending OA and ZNS
messages): the Zalo connection's row. An access token lives about 25 hours; it is refreshed before it expires
by a job queued for (expiry - NURTURE_ZALO_REFRESH_AHEAD_MINUTES), with a daily job as a safety net."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from nurture.capture.models import Connection
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.messaging.providers.http import ProviderError, post_form

REFRESH_JOB = "capture.zalo_refresh"


def oa_connection() -> Connection | None:
    return (
        Connection.objects.filter(channel=Connection.Channel.ZALO, is_active=True)
        .exclude(access_token="")
        .order_by("pk")
        .first()
    )


def access_token() -> str:
    """The OA's current access token; without a Zalo connection, the NURTURE_ZALO_ACCESS_TOKEN setting."""
    connection = oa_connection()
    return connection.access_token if connection else settings.NURTURE_ZALO_ACCESS_TOKEN


def _ahead() -> timedelta:
    return timedelta(minutes=settings.NURTURE_ZALO_REFRESH_AHEAD_MINUTES)


def schedule_refresh(connection: Connection) -> None:
    """Queue the refresh of this token before it expires (once per expiry time)."""
    if not (connection.refresh_token and connection.token_expires_at and connection.is_active):
        return
    expires = connection.token_expires_at
    key = f"zalo-refresh:{connection.pk}:{expires.isoformat()}"
    enqueue_on_commit(REFRESH_JOB, {"connection_id": connection.pk}, key=key, due_at=expires - _ahead())


def refresh(connection_id: int, *, force: bool = False) -> Connection:
    """Trade the refresh token for a new pair; a refusal is recorded on the connection and raised (the job
    retries with back-off)."""
    try:
        return _refresh(connection_id, force=force)
    except ProviderError as exc:
        Connection.objects.filter(pk=connection_id).update(last_error=str(exc), last_error_at=clock.now())
        raise


def _refresh(connection_id: int, *, force: bool) -> Connection:
    # The row is locked: Zalo's refresh tokens are single-use, so two workers refreshing at once would leave
    # the OA with a dead token.
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        now = clock.now()
        fresh = connection.token_expires_at and connection.token_expires_at - _ahead() > now
        if not connection.refresh_token or (fresh and not force):
            return connection  # refreshed meanwhile by another worker, or nothing to refresh with
        answer = post_form(
            f"{settings.NURTURE_ZALO_OAUTH_URL.rstrip('/')}/v4/oa/access_token",
            {"refresh_token": connection.refresh_token, "app_id": connection.app_id, "grant_type": "refresh_token"},
            headers={"secret_key": connection.app_secret},
        )
        if not answer.get("access_token"):
            name = answer.get("error_name") or answer.get("error")
            raise ProviderError(f"Zalo token refresh: {name} {answer.get('error_description', '')}".strip())
        connection.access_token = answer["access_token"]
        connection.refresh_token = answer.get("refresh_token") or connection.refresh_token
        connection.token_expires_at = now + timedelta(seconds=int(answer.get("expires_in") or 90000))
        connection.updated_at = now
        connection.save(update_fields=["access_token", "refresh_token", "token_expires_at", "updated_at"])
        schedule_refresh(connection)
    return connection


def refresh_due() -> int:
    """The daily safety net: refresh every token that expires within the margin (a worker that was down
    when its refresh fell due), and make sure each has its next refresh queued."""
    count = 0
    for connection in Connection.objects.filter(channel=Connection.Channel.ZALO, is_active=True).exclude(
        refresh_token=""
    ):
        if connection.token_expires_at is None or connection.token_expires_at - _ahead() <= clock.now():
            refresh(connection.pk)
            count += 1
        else:
            with transaction.atomic():
                schedule_refresh(connection)
    return count
