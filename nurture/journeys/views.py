from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.journeys import actions, library, reports
from nurture.journeys.actions import JourneyError
from nurture.journeys.forms import EnrolForm, JourneyForm, StepForm, TestForm, step_choices
from nurture.journeys.models import Enrolment, Journey
from nurture.journeys.templatetags.journeys_tags import describe, names_for
from nurture.journeys.testmode import dry_run
from nurture.segments.models import Segment


def _error(request: HttpRequest, exc: JourneyError) -> None:
    for text in [str(p) for p in exc.problems] or [exc.message]:
        messages.error(request, text)


@login_required
def journey_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    journeys = list(Journey.objects.select_related("live_version"))
    counts = reports.counts(journeys)
    rows = [(j, counts[j.pk], counts[j.pk].ordered(j.graph)) for j in journeys]
    return render(request, "journeys/list.html", {"rows": rows, "ready": library.READY})


@login_required
def journey_edit(request: HttpRequest, journey_id: int | None = None) -> HttpResponse:
    """The journey's settings (name, trigger, goal, re-enrolment); its steps are edited on its page."""
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id) if journey_id else None
    initial = JourneyForm.initial_from(journey) if journey else {"quiet_hours": True, "exit_on_unsubscribe": True}
    form = JourneyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.save_journey(journey, form.cleaned_data, actor=request.user)  # type: ignore[arg-type]
        except JourneyError as exc:
            field = exc.field.split(".")[0]
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Journey “%(name)s” saved.") % {"name": saved.name})
            return redirect("journeys:detail", journey_id=saved.pk)
    return render(request, "journeys/edit.html", {"form": form, "journey": journey})


@login_required
def journey_detail(request: HttpRequest, journey_id: int) -> HttpResponse:
    require_configure(request)
    journey = get_object_or_404(Journey.objects.select_related("live_version"), pk=journey_id)
    counts = reports.counts([journey])[journey.pk]
    names = names_for(journey.graph)
    steps = [(s, journey.graph["steps"][s], describe(journey.graph["steps"][s], names), counts.steps.get(s))
             for s in journey.graph.get("order", [])]  # fmt: skip
    return render(request, "journeys/detail.html", {
        "journey": journey, "counts": counts, "steps": steps, "test_form": TestForm(), "enrol_form": EnrolForm(),
        "versions": journey.versions.all()[:10],
    })  # fmt: skip


@login_required
def step_edit(request: HttpRequest, journey_id: int, step_id: str | None = None) -> HttpResponse:
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    ids = list(journey.graph.get("order", []))
    if step_id is not None and step_id not in ids:
        raise Http404
    old = journey.graph["steps"][step_id] if step_id else None
    initial = StepForm.initial_from(step_id, old) if step_id and old else {"type": request.GET.get("type", "")}
    form = StepForm(request.POST or None, initial=initial, step_ids=ids, choices=step_choices(journey))
    if request.method == "POST" and form.is_valid():
        new_id = form.cleaned_data["step_id"]
        try:
            actions.save_step(journey, new_id, form.step(old), old_id=step_id, actor=request.user)  # type: ignore[arg-type]
        except JourneyError as exc:
            for problem in exc.problems:
                field = form.field_for(problem.field) if problem.step == new_id else None
                form.add_error(field, problem.message if field else str(problem))
            if not exc.problems:
                form.add_error(form.field_for(exc.field), exc.message)
        else:
            messages.success(request, _("Step saved. Publish to use it."))
            return redirect("journeys:detail", journey_id=journey.pk)
    return render(request, "journeys/step.html", {"form": form, "journey": journey, "step_id": step_id})


@login_required
@require_POST
def step_change(request: HttpRequest, journey_id: int, step_id: str) -> HttpResponse:
    """Delete, or move up or down, a step of the draft."""
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    if step_id not in journey.graph.get("steps", {}):
        raise Http404
    user: User = request.user  # type: ignore[assignment]
    try:
        if request.POST.get("do") == "delete":
            actions.delete_step(journey, step_id, actor=user)
        else:
            actions.move_step(journey, step_id, -1 if request.POST.get("do") == "up" else 1, actor=user)
    except JourneyError as exc:
        _error(request, exc)
    return redirect("journeys:detail", journey_id=journey.pk)


@login_required
@require_POST
def publish(request: HttpRequest, journey_id: int) -> HttpResponse:
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    try:
        version = actions.publish(journey, actor=request.user)  # type: ignore[arg-type]
    except JourneyError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Version %(n)d is live.") % {"n": version.number})
    return redirect("journeys:detail", journey_id=journey.pk)


@login_required
@require_POST
def set_status(request: HttpRequest, journey_id: int) -> HttpResponse:
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    try:
        actions.set_status(journey, request.POST.get("status", ""), actor=request.user)  # type: ignore[arg-type]
    except JourneyError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The journey is now %(status)s.") % {"status": journey.get_status_display()})
    return redirect("journeys:detail", journey_id=journey.pk)


@login_required
def test_run(request: HttpRequest, journey_id: int) -> HttpResponse:
    """Test mode: a dry run of the draft for one contact; nothing is written or sent."""
    require_configure(request)
    journey = get_object_or_404(Journey, pk=journey_id)
    form = TestForm(request.GET or None)
    walk, contact = None, None
    if form.is_valid():
        contact = visible_contacts(request.user).filter(pk=form.cleaned_data["contact"]).first()
        if contact is None:
            form.add_error("contact", _("No such contact."))
        else:
            try:
                walk = dry_run(journey, contact, events_happen=form.cleaned_data["events_happen"])
            except JourneyError as exc:
                form.add_error(None, exc.message)
    names = names_for(journey.graph)
    stops = [(stop, describe(journey.graph["steps"][stop.step], names)) for stop in walk.stops] if walk else []
    return render(request, "journeys/test.html", {"journey": journey, "form": form, "walk": walk, "contact": contact,
                                                  "stops": stops})  # fmt: skip


@login_required
@require_POST
def install(request: HttpRequest, key: str) -> HttpResponse:
    require_configure(request)
    if key not in library.BY_KEY:
        raise Http404
    journey = library.install(key, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("“%(name)s” installed as a draft: review it, then publish.") % {"name": journey.name})
    return redirect("journeys:detail", journey_id=journey.pk)


@login_required
@require_POST
def enrol(request: HttpRequest, journey_id: int) -> HttpResponse:
    """Enrol contacts by id, or a segment's members, by hand."""
    require_configure(request)
    journey = get_object_or_404(Journey.objects.select_related("live_version"), pk=journey_id)
    form = EnrolForm(request.POST)
    try:
        if not form.is_valid():
            raise JourneyError("contacts", " ".join(str(e) for errors in form.errors.values() for e in errors))
        made = _enrol(request, journey, form.cleaned_data)
    except JourneyError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("%(n)d contacts enrolled.") % {"n": len(made)})
    return redirect("journeys:detail", journey_id=journey.pk)


def _enrol(request: HttpRequest, journey: Journey, data: dict[str, Any]) -> list[Enrolment]:
    if data.get("segment"):
        segment = Segment.objects.filter(pk=data["segment"]).first()
        if segment is None:
            raise JourneyError("segment", _("No such segment."))
        return actions.enrol_segment(journey, segment)
    ids = data["contacts"]
    visible = set(visible_contacts(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    if not ids or set(ids) - visible:
        raise JourneyError("contacts", _("No such contact: %(ids)s.") % {"ids": sorted(set(ids) - visible) or "—"})
    return actions.enrol(journey, ids, source="manual")


@login_required
@require_POST
def contact_enrol(request: HttpRequest, contact_id: int) -> HttpResponse:
    require_configure(request)
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    journey = get_object_or_404(Journey.objects.select_related("live_version"), pk=request.POST.get("journey") or 0)
    try:
        made = actions.enrol(journey, [contact.pk], source="manual")
    except JourneyError as exc:
        _error(request, exc)
    else:
        if made:
            messages.success(request, _("Enrolled in “%(name)s”.") % {"name": journey.name})
        else:
            messages.warning(request, _("Not enrolled: already on it, kept out by the re-enrolment rule, or the goal "
                                        "is met already."))  # fmt: skip
    return redirect("contacts:detail", contact_id=contact.pk)


@login_required
@require_POST
def contact_exit(request: HttpRequest, contact_id: int, journey_id: int) -> HttpResponse:
    require_configure(request)
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    journey = get_object_or_404(Journey, pk=journey_id)
    actions.exit_contact(contact, journey, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Removed from “%(name)s”.") % {"name": journey.name})
    return redirect("contacts:detail", contact_id=contact.pk)
