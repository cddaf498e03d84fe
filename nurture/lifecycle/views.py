from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.conditions import CONTACT_FIELDS
from nurture.core import clock
from nurture.lifecycle import actions, reports
from nurture.lifecycle.forms import (
    ActivateForm,
    ChecklistForm,
    StageFormSet,
    StageSetForm,
    TransitionRuleForm,
    stage_initial,
)
from nurture.lifecycle.models import StageSet, TransitionRule
from nurture.lifecycle.stages import active_set_id

REPORT_DAYS = 90


def _active() -> StageSet:
    return StageSet.objects.get(pk=active_set_id())


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    active = _active()
    stages = (
        active.stages.order_by("position")
        .prefetch_related("returns_to")
        .annotate(contact_count=Count("contacts", filter=Q(contacts__merged_into__isnull=True)))
    )
    return render(request, "lifecycle/overview.html", {
        "active": active, "stages": stages, "sets": StageSet.objects.exclude(pk=active.pk),
        "rules": active.rules.select_related("to_stage").prefetch_related("from_stages"),
    })  # fmt: skip


@login_required
def edit_stages(request: HttpRequest, set_id: int) -> HttpResponse:
    require_configure(request)
    stage_set = get_object_or_404(StageSet, pk=set_id)
    formset = StageFormSet(request.POST or None, initial=stage_initial(stage_set), prefix="stages")
    form = StageSetForm(request.POST or None, initial={"backward": stage_set.backward})
    if request.method == "POST" and formset.is_valid() and form.is_valid():
        rows = [f.stage_input() for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            actions.save_stages(stage_set, rows, backward=form.cleaned_data["backward"])
        except actions.StageError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Stages saved."))
            return redirect("lifecycle:overview")
    return render(request, "lifecycle/stages.html", {"stage_set": stage_set, "formset": formset, "form": form})


@login_required
def activate(request: HttpRequest, set_id: int) -> HttpResponse:
    require_configure(request)
    new = get_object_or_404(StageSet, pk=set_id)
    old = _active()
    form = ActivateForm(request.POST or None, old=old, new=new, initial_map=actions.default_mapping(old, new))
    if request.method == "POST" and form.is_valid():
        try:
            moved = actions.activate_set(new, form.mapping(), actor=request.user)  # type: ignore[arg-type]
        except actions.StageError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("“%(set)s” is now active; %(n)s contacts moved.") % {"set": new, "n": moved})
            return redirect("lifecycle:overview")
    return render(request, "lifecycle/activate.html", {"old": old, "new": new, "form": form})


@login_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    require_configure(request)
    rule = get_object_or_404(TransitionRule, pk=rule_id) if rule_id else None
    stage_set = rule.stage_set if rule else _active()
    initial = TransitionRuleForm.initial_from(rule) if rule else {"is_active": True, "priority": 100}
    form = TransitionRuleForm(request.POST or None, initial=initial, stage_set=stage_set)
    if request.method == "POST" and form.is_valid():
        saved = actions.save_rule(rule, form.rule_data())
        messages.success(request, _("Rule “%(name)s” saved; it is being applied to everyone.") % {"name": saved.name})
        return redirect("lifecycle:overview")
    return render(request, "lifecycle/rule.html", {"form": form, "rule": rule, "contact_fields": CONTACT_FIELDS})


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    require_configure(request)
    actions.delete_rule(get_object_or_404(TransitionRule, pk=rule_id))
    messages.success(request, _("Rule deleted."))
    return redirect("lifecycle:overview")


def _period(request: HttpRequest) -> tuple[datetime, datetime, str, str]:
    today = timezone.localdate(clock.now())
    since_day = parse_date(request.GET.get("since") or "") or today - timedelta(days=REPORT_DAYS)
    until_day = parse_date(request.GET.get("until") or "") or today
    since = timezone.make_aware(datetime.combine(since_day, time.min))
    until = timezone.make_aware(datetime.combine(until_day + timedelta(days=1), time.min))
    return since, until, since_day.isoformat(), until_day.isoformat()


@login_required
def report(request: HttpRequest) -> HttpResponse:
    active = _active()
    since, until, since_text, until_text = _period(request)
    stages = list(active.stages.order_by("position"))
    by_pk = {str(s.pk): s for s in stages}
    pair = None
    if request.GET.get("from") in by_pk and request.GET.get("to") in by_pk:
        pair = reports.conversion(by_pk[request.GET["from"]], by_pk[request.GET["to"]], since, until)
    return render(request, "lifecycle/report.html", {
        "active": active, "rows": reports.stage_report(active, since, until), "since": since_text,
        "until": until_text, "stages": stages, "pair": pair,
    })  # fmt: skip


@login_required
@require_POST
def checklist(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    form = ChecklistForm(request.POST)
    if form.is_valid():
        actions.set_checklist(contact, form.items(), actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Checklist saved."))
    else:
        messages.error(request, _("The checklist could not be saved: %(errors)s") % {"errors": form.errors})
    return redirect("contacts:detail", contact_id=contact.pk)
