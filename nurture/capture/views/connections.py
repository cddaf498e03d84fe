"""The connections page (each channel's status, last event, errors, test), the dead-letter list, and the one
public webhook URL every connection is reached at."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.capture import actions, importing
from nurture.capture.models import Connection, InboundEvent
from nurture.capture.sources import SOURCES, facebook
from nurture.capture.sources.forms import BackfillForm, PayloadForm, connection_form
from nurture.capture.views.imports import FIELD_LABELS
from nurture.core import clock
from nurture.messaging.providers.http import ProviderError

RECENT_EVENTS = 20
MAX_FIELDS = 500  # mapping rows read from one form post
ERROR_WINDOW = timedelta(days=7)


@csrf_exempt  # providers post without a CSRF token: the signature is the credential
def hook(request: HttpRequest, key: str) -> HttpResponse:
    connection = Connection.objects.filter(key=key, is_active=True).first()
    if connection is None:
        raise Http404
    return SOURCES[connection.channel].webhook(request, connection)


def hook_url(request: HttpRequest, connection: Connection) -> str:
    return request.build_absolute_uri(reverse("capture:hook", args=[connection.key]))


@login_required
def connection_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    since = clock.now() - ERROR_WINDOW
    connections = Connection.objects.annotate(
        dead=Count("events", filter=Q(events__status=InboundEvent.Status.DEAD)),
        recent=Count("events", filter=Q(events__received_at__gte=since)),
    )
    rows = [(c, hook_url(request, c), c.last_error_at and c.last_error_at >= since) for c in connections]
    return render(request, "capture/connections.html", {"rows": rows, "channels": Connection.Channel.choices})


def _mapping_rows(connection: Connection) -> list[tuple[str, str]]:
    """Provider fields to map: those already mapped and those seen in the latest events, with their target."""
    names = list(connection.mapping)
    if connection.pk:
        source = SOURCES[connection.channel]
        for event in connection.events.order_by("-received_at")[:RECENT_EVENTS]:
            names.extend(n for n in source.fields(event) if n not in names)
    auto = importing.auto_map(names)
    return [(n, connection.mapping.get(n, auto.get(n, ""))) for n in names]


@login_required
def connection_edit(request: HttpRequest, connection_id: int | None = None) -> HttpResponse:
    require_configure(request)
    if connection_id:
        connection = get_object_or_404(Connection, pk=connection_id)
    else:
        channel = request.GET.get("channel", "")
        if channel not in Connection.Channel.values:
            raise Http404
        connection = Connection(channel=channel, name=str(Connection.Channel(channel).label))
    form_class = connection_form(connection.channel)
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, instance=connection)
        posted_rows = request.POST.get("fields", "0")
        mapping = {
            request.POST.get(f"field-{i}", "").strip(): request.POST.get(f"map-{i}", "")
            for i in range(min(int(posted_rows), MAX_FIELDS) + 1 if posted_rows.isdigit() else 1)
        }
        if form.is_valid():
            try:
                saved = actions.save_connection(form.save(commit=False), mapping=mapping)
            except actions.InvalidConnection as exc:
                form.add_error(None, f"{exc.field}: {exc}")
            else:
                messages.success(request, _("Connection saved."))
                return redirect("capture:connection", connection_id=saved.pk)
        status = 422
    else:
        form = form_class(instance=connection)
    rows = _mapping_rows(connection)
    return render(request, "capture/connection_edit.html", {
        "connection": connection, "form": form, "rows": rows, "n_rows": len(rows),
        "targets": [("", _("(ignore)"))] + [(f, FIELD_LABELS[f]) for f in importing.FIELDS],
        "custom_prefix": importing.CUSTOM_PREFIX, "hook_url": hook_url(request, connection) if connection.pk else "",
        "backfill": BackfillForm() if connection.channel == Connection.Channel.FACEBOOK and connection.pk else None,
        "events": connection.events.order_by("-received_at")[:RECENT_EVENTS] if connection.pk else [],
    }, status=status)  # fmt: skip


@login_required
@require_POST
def connection_test(request: HttpRequest, connection_id: int) -> HttpResponse:
    require_configure(request)
    connection = get_object_or_404(Connection, pk=connection_id)
    try:
        result = SOURCES[connection.channel].check(connection)
    except (ProviderError, actions.Unmappable) as exc:
        messages.error(request, _("Test failed: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Test passed: %(result)s") % {"result": result})
    return redirect(request.POST.get("next") or "capture:connections")


@login_required
@require_POST
def connection_backfill(request: HttpRequest, connection_id: int) -> HttpResponse:
    require_configure(request)
    connection = get_object_or_404(Connection, pk=connection_id, channel=Connection.Channel.FACEBOOK)
    form = BackfillForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items()))
        return redirect("capture:connection", connection_id=connection.pk)
    data = form.cleaned_data
    since = timezone.make_aware(datetime.combine(data["since"], time.min))
    until = timezone.make_aware(datetime.combine(data["until"] + timedelta(days=1), time.min))
    try:
        facebook.start_backfill(connection, form_id=data["form_id"], since=since, until=until)
    except actions.InvalidConnection as exc:
        messages.error(request, f"{exc.field}: {exc}")
    else:
        messages.success(request, _("Backfill queued: the leads appear below as they are fetched."))
    return redirect("capture:connection", connection_id=connection.pk)


@login_required
def dead_letters(request: HttpRequest) -> HttpResponse:
    """The dead-letter list (of one connection with ?connection=); POST replays them all, e.g. after a mapping
    was fixed."""
    require_configure(request)
    wanted = request.GET.get("connection", "")
    if wanted and not wanted.isdigit():
        raise Http404
    connection = get_object_or_404(Connection, pk=int(wanted)) if wanted else None
    if request.method == "POST":
        replayed = actions.replay_dead_letters(connection)
        still = sum(1 for e in replayed if e.status == InboundEvent.Status.DEAD)
        messages.success(request, _("%(done)d replayed, %(still)d still dead.") % {
            "done": len(replayed) - still, "still": still})  # fmt: skip
        return redirect(request.get_full_path())
    events = InboundEvent.objects.filter(status=InboundEvent.Status.DEAD).select_related("connection")
    if connection is not None:
        events = events.filter(connection=connection)
    return render(request, "capture/dead_letters.html", {
        "events": events[:200], "total": events.count(), "connection": connection,
    })  # fmt: skip


@login_required
def inbound_event(request: HttpRequest, event_id: int) -> HttpResponse:
    """A kept event: its payload (editable while it is dead), its error, and Replay."""
    require_configure(request)
    event = get_object_or_404(InboundEvent.objects.select_related("connection", "contact"), pk=event_id)
    status = 200
    if request.method == "POST":
        form = PayloadForm(request.POST)
        if form.is_valid():
            try:
                event = actions.replay_inbound(event, payload=form.cleaned_data["payload"])
            except actions.InvalidConnection as exc:
                form.add_error("payload", str(exc))
            else:
                if event.status == InboundEvent.Status.DEAD:
                    messages.error(request, _("Still not captured: %(error)s") % {"error": event.error})
                else:
                    messages.success(request, _("Replayed."))
                return redirect("capture:inbound_event", event_id=event.pk)
        status = 422
    else:
        form = PayloadForm(initial={"payload": event.payload})
    context: dict[str, Any] = {"event": event, "form": form}
    return render(request, "capture/inbound_event.html", context, status=status)
