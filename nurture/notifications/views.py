from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.core.paging import get_page
from nurture.notifications import actions
from nurture.notifications.forms import ChannelForm
from nurture.notifications.models import Notification, WebhookChannel

LIST_PAGE = 50
# htmx stops polling on this status: a tab left open after the session ended stops asking.
STOP_POLLING = 286


def count(request: HttpRequest) -> HttpResponse:
    """The bell with the unread count (htmx polls it every 5 s)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    unread = actions.unread_count(request.user)  # type: ignore[arg-type]
    return render(request, "notifications/_bell.html", {"unread": unread})


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    qs = Notification.objects.filter(user=request.user).select_related("contact")  # type: ignore[misc]
    page = get_page(qs.order_by("-created_at", "-id"), LIST_PAGE, request.GET.get("page"))
    unread = actions.unread_count(request.user)  # type: ignore[arg-type]
    return render(request, "notifications/list.html", {"page": page, "unread": unread})


@login_required
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Opening a notice marks it read and goes where it points (the lead's page)."""
    notice = get_object_or_404(Notification, pk=notification_id, user=request.user)  # type: ignore[misc]
    actions.mark_read(request.user, [notice.pk])  # type: ignore[arg-type]
    safe = url_has_allowed_host_and_scheme(notice.url, allowed_hosts={request.get_host()})
    return redirect(notice.url if notice.url and safe else "notifications:list")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    n = actions.mark_read(request.user, all_unread=True)  # type: ignore[arg-type]
    messages.success(request, _("%(n)d marked read.") % {"n": n})
    return redirect("notifications:list")


# --- webhook channels ----------------------------------------------------------------------------------


@login_required
def channel_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    labels = dict(Notification.Kind.choices)
    channels = list(WebhookChannel.objects.select_related("user"))
    for channel in channels:
        channel.kind_labels = [labels.get(k, k) for k in channel.kinds]  # type: ignore[attr-defined]
    return render(request, "notifications/channels.html", {"channels": channels})


@login_required
def channel_edit(request: HttpRequest, channel_id: int | None = None) -> HttpResponse:
    require_configure(request)
    channel = get_object_or_404(WebhookChannel, pk=channel_id) if channel_id else None
    initial = ChannelForm.initial_from(channel) if channel else None
    form = ChannelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = actions.save_channel(channel, form.cleaned_data, actor=_user(request))
        messages.success(request, _("Channel “%(name)s” saved.") % {"name": saved.name})
        return redirect("notifications:channels")
    return render(request, "notifications/channel_edit.html", {"form": form, "channel": channel})


@login_required
@require_POST
def channel_delete(request: HttpRequest, channel_id: int) -> HttpResponse:
    require_configure(request)
    channel = get_object_or_404(WebhookChannel, pk=channel_id)
    actions.delete_channel(channel, actor=_user(request))
    messages.success(request, _("“%(name)s” deleted.") % {"name": channel.name})
    return redirect("notifications:channels")


@login_required
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    require_configure(request)
    channel = get_object_or_404(WebhookChannel, pk=channel_id)
    actions.send_test(channel, actor=_user(request))
    messages.success(request, _("A test is on its way to “%(name)s”; reload in a moment to see the result.") % {
        "name": channel.name})  # fmt: skip
    return redirect("notifications:channels")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]
