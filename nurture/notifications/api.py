"""The acting user's notifications through the API: list them, mark them read."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError, ValidationError

from nurture.accounts.auth import acting_user, require_scope
from nurture.accounts.models import ApiKey, User
from nurture.notifications import actions
from nurture.notifications.models import Notification

router = Router(tags=["notifications"])
MAX_PAGE = 200
MAX_IDS = 1000


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str = Field(..., description="absolute; the lead's page for a notice about a lead")
    contact_id: int | None
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def build(notice: Notification) -> NotificationOut:
        return NotificationOut(
            id=notice.pk, kind=notice.kind, title=notice.title, body=notice.body, url=actions.absolute_url(notice.url),
            contact_id=notice.contact_id, created_at=notice.created_at, read_at=notice.read_at,
        )  # fmt: skip


class NotificationPage(Schema):
    items: list[NotificationOut]
    unread: int = Field(..., description="the user's unread notices, all of them")
    next_cursor: str | None


class ListQuery(Schema):
    unread: bool = Field(False, description="only the unread ones")
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class ReadIn(Schema):
    ids: list[int] = Field(default_factory=list, description=f"up to {MAX_IDS} of the user's notification ids")
    all: bool = Field(False, description="mark every unread notice read")


class ReadOut(Schema):
    marked: int = Field(..., description="how many were unread and are now read")
    unread: int


def _user(request: HttpRequest) -> User:
    """Notifications belong to a person: an API key acts as the user who created it."""
    user = acting_user(request)
    if user is None:
        raise HttpError(403, "this key has no user (its creator was deleted), so it has no notifications")
    return user


@router.get("", response=NotificationPage, summary="The acting user's notifications, newest first")
def list_notifications(request: HttpRequest, query: Query[ListQuery]) -> NotificationPage:
    require_scope(request, ApiKey.Scope.CONTACTS_READ)
    user = _user(request)
    qs = Notification.objects.filter(user=user)
    if query.unread:
        qs = qs.filter(read_at__isnull=True)
    if query.cursor:
        last = Notification.objects.filter(user=user, pk=_cursor(query.cursor)).first()
        if last is None:
            raise HttpError(422, "cursor: not a cursor returned by this API")
        qs = qs.filter(Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, pk__lt=last.pk))
    page = list(qs.order_by("-created_at", "-id")[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return NotificationPage(
        items=[NotificationOut.build(n) for n in page],
        unread=actions.unread_count(user),
        next_cursor=str(page[-1].pk) if more else None,
    )


@router.post("/read", response=ReadOut, summary="Mark notifications read: some by id, or all")
def mark_read(request: HttpRequest, payload: ReadIn) -> ReadOut:
    # Marking one's own notices read changes no contact; still a write, so a read-only key may not.
    require_scope(request, ApiKey.Scope.CONTACTS_WRITE)
    user = _user(request)
    if payload.all:
        marked = actions.mark_read(user, all_unread=True)
        return ReadOut(marked=marked, unread=actions.unread_count(user))
    if not 1 <= len(payload.ids) <= MAX_IDS:
        message = f"send 1 to {MAX_IDS} ids, or all: true"
        raise ValidationError([{"loc": ["body", "ids"], "type": "size", "msg": message}])
    mine = set(Notification.objects.filter(user=user, pk__in=payload.ids).values_list("pk", flat=True))
    unknown = [(i, n) for i, n in enumerate(payload.ids) if n not in mine]
    if unknown:
        raise ValidationError([
            {"loc": ["body", "ids", i], "type": "not_found", "msg": f"no such notification: {n}"} for i, n in unknown
        ])  # fmt: skip
    marked = actions.mark_read(user, payload.ids)
    return ReadOut(marked=marked, unread=actions.unread_count(user))


def _cursor(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise HttpError(422, "cursor: not a cursor returned by this API") from None
