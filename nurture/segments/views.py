from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.conditions import CONTACT_FIELDS, EVENT_FIELDS, OPS_BY_KIND, ConditionError
from nurture.contacts.models import Contact
from nurture.core.paging import get_page
from nurture.segments import actions
from nurture.segments.forms import MembersForm, PreviewForm, SegmentForm, parse_conditions, pretty
from nurture.segments.models import Segment

MEMBERS_PAGE = 50
EXAMPLE = {
    "all": [
        {"event": "webinar_attended", "within_days": 30},
        {"not": {"field": "stage", "op": "eq", "value": "customer"}},
    ]
}
CSV_COLUMNS = ["id", "full_name", "email", "phone", "stage", "score", "band", "owner", "created_at"]


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    visible = visible_contacts(request.user)
    rows = [(segment, _count(request.user, segment, visible)) for segment in Segment.objects.all()]  # type: ignore[arg-type]
    return render(request, "segments/list.html", {"rows": rows})


def _count(user: User, segment: Segment, visible: QuerySet[Contact]) -> int | None:
    """Members now: counted live for a dynamic segment (one query), stored for a list unless the user sees
    only some contacts. None for a condition that no longer compiles."""
    if not segment.is_dynamic and user.sees_everything:
        return segment.member_count
    try:
        return actions.count(segment, visible)
    except ConditionError:
        return None


@login_required
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=segment_id)
    error = ""
    try:
        qs = actions.members(segment, visible_contacts(request.user))
    except ConditionError as exc:
        qs, error = Contact.objects.none(), str(exc)
    page = get_page(qs.select_related("stage", "owner").order_by("-pk"), MEMBERS_PAGE, request.GET.get("page"))
    return render(request, "segments/detail.html", {
        "segment": segment, "page": page, "error": error, "members_form": MembersForm(),
        "conditions": pretty(segment.conditions),
    })  # fmt: skip


@login_required
def segment_edit(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    require_configure(request)
    segment = get_object_or_404(Segment, pk=segment_id) if segment_id else None
    initial = SegmentForm.initial_from(segment) if segment else None
    form = SegmentForm(request.POST or None, initial=initial, segment=segment)
    if request.method == "POST" and form.is_valid():
        saved = actions.save_segment(segment, form.cleaned_data["segment"], actor=request.user)  # type: ignore[arg-type]
        if saved.is_dynamic:
            messages.success(request, _("Segment “%(name)s” saved; its members are being refreshed.") % {
                "name": saved.name})  # fmt: skip
        else:
            messages.success(request, _("List “%(name)s” saved.") % {"name": saved.name})
        return redirect("segments:detail", segment_id=saved.pk)
    return render(request, "segments/edit.html", {
        "form": form, "segment": segment, "example": json.dumps(EXAMPLE, ensure_ascii=False),
        "fields": [(name, f.label, OPS_BY_KIND.get(f.kind, ())) for name, f in CONTACT_FIELDS.items()],
        "event_fields": [*EVENT_FIELDS, "data.<key>"],
    })  # fmt: skip


@login_required
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    require_configure(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    actions.delete_segment(segment, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("“%(name)s” deleted.") % {"name": segment.name})
    return redirect("segments:list")


@login_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The live count of the condition being edited (HTMX), or why it cannot be counted."""
    require_configure(request)
    form = PreviewForm(request.POST)
    form.is_valid()
    context: dict[str, Any] = {"count": None, "error": ""}
    conditions = parse_conditions(form, form.cleaned_data.get("conditions_json", ""))
    if conditions is None:
        context["error"] = " ".join(str(e) for e in form.errors.get("conditions_json", []))
    elif not conditions:
        context["error"] = _("Write a condition first.")
    else:
        try:
            probe = Segment(kind=Segment.Kind.DYNAMIC, conditions=conditions)
            context["count"] = actions.count(probe, visible_contacts(request.user))
        except ConditionError as exc:
            context["error"] = _("Invalid condition: %(error)s") % {"error": exc}
    return render(request, "segments/_count.html", context)


@login_required
@require_POST
def refresh_now(request: HttpRequest, segment_id: int) -> HttpResponse:
    require_configure(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    try:
        result = actions.refresh(segment, actor=request.user)  # type: ignore[arg-type]
    except ConditionError as exc:
        messages.error(request, _("Invalid condition: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Refreshed: %(entered)d entered, %(left)d left, %(members)d members.") % {
            "entered": result.entered, "left": result.left, "members": result.members})  # fmt: skip
    return redirect("segments:detail", segment_id=segment.pk)


@login_required
@require_POST
def change_members(request: HttpRequest, segment_id: int) -> HttpResponse:
    """Add contacts to a static list, or remove them, by id: all of them or, naming the unknown ones, none."""
    require_configure(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    form = MembersForm(request.POST)
    if segment.is_dynamic:
        messages.error(request, _("A dynamic segment's members follow its condition; they cannot be changed by hand."))
    elif not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    else:
        ids, removing = form.cleaned_data["contact_ids"], form.cleaned_data["action"] == "remove"
        unknown = actions.unknown_ids(ids, visible_contacts(request.user), segment=segment if removing else None)
        if unknown:
            messages.error(request, _("No such contact: %(ids)s. Nothing was changed.") % {
                "ids": ", ".join(f"#{i}" for i in sorted(unknown)[:20])})  # fmt: skip
        elif removing:
            removed = actions.remove_from_list(segment, ids, actor=request.user)  # type: ignore[arg-type]
            messages.success(request, _("%(n)d removed from the list.") % {"n": len(removed)})
        else:
            added = actions.add_to_list(segment, ids, actor=request.user)  # type: ignore[arg-type]
            messages.success(request, _("%(n)d added to the list.") % {"n": len(added)})
    return redirect("segments:detail", segment_id=segment.pk)


class _Echo:
    """csv.writer writes into this and gets the line back, to stream it."""

    def write(self, value: str) -> str:
        return value


@login_required
def export_csv(request: HttpRequest, segment_id: int) -> HttpResponseBase:
    """The members this user may see, streamed (a big segment never sits in memory)."""
    segment = get_object_or_404(Segment, pk=segment_id)
    try:
        qs = actions.members(segment, visible_contacts(request.user))
    except ConditionError as exc:
        messages.error(request, _("Invalid condition: %(error)s") % {"error": exc})
        return redirect("segments:detail", segment_id=segment.pk)
    response = StreamingHttpResponse(_csv_rows(qs.select_related("stage", "owner").order_by("pk")),
                                     content_type="text/csv; charset=utf-8")  # fmt: skip
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}.csv"'
    return response


def _csv_rows(contacts: QuerySet[Contact]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # the byte-order mark makes Excel read UTF-8 (Vietnamese names)
    yield writer.writerow(CSV_COLUMNS)
    for c in contacts.iterator(chunk_size=2000):
        yield writer.writerow([
            c.pk, _cell(c.full_name), _cell(c.email), c.phone, c.stage.key, c.score, c.band,
            c.owner.username if c.owner else "", c.created_at.isoformat(),
        ])  # fmt: skip


def _cell(text: str) -> str:
    """Typed-in text that a spreadsheet would run as a formula is quoted (phones are E.164, digits and +)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
