from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.actions import log_activity
from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.core.paging import get_page
from nurture.lifecycle.models import Stage
from nurture.routing import actions, reports
from nurture.routing.forms import ActivityForm, AssignForm, BulkAssignForm, CapacityForm, PolicyForm, RuleForm, reps
from nurture.routing.models import Assignment, AssignmentRule, Capacity, SlaPolicy

PAGE = 50
UNCARED_DAYS = 7


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    capacities = {c.user_id: c for c in Capacity.objects.all()}
    return render(request, "routing/overview.html", {
        "rules": AssignmentRule.objects.select_related("on_stage", "team").prefetch_related("members__user"),
        "policies": SlaPolicy.objects.all(), "reps": [(u, capacities.get(u.pk)) for u in reps()],
        "queued": _queue().count(),
    })  # fmt: skip


@login_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    require_configure(request)
    rule = get_object_or_404(AssignmentRule, pk=rule_id) if rule_id else None
    initial = RuleForm.initial_from(rule) if rule else {"is_active": True, "priority": 100}
    form = RuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data, members = form.rule_data()
        try:
            saved = actions.save_rule(rule, data, members)
        except actions.RoutingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Rule “%(name)s” saved.") % {"name": saved.name})
            return redirect("routing:overview")
    return render(request, "routing/rule.html", {"form": form, "rule": rule})


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    require_configure(request)
    get_object_or_404(AssignmentRule, pk=rule_id).delete()
    messages.success(request, _("Rule deleted."))
    return redirect("routing:overview")


@login_required
def policy_edit(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    require_configure(request)
    policy = get_object_or_404(SlaPolicy, pk=policy_id) if policy_id else None
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.save_policy(policy, form.cleaned_data)
        except actions.RoutingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Policy “%(name)s” saved.") % {"name": saved.name})
            return redirect("routing:overview")
    return render(request, "routing/policy.html", {"form": form, "policy": policy})


@login_required
@require_POST
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    require_configure(request)
    get_object_or_404(SlaPolicy, pk=policy_id).delete()
    messages.success(request, _("Policy deleted."))
    return redirect("routing:overview")


@login_required
@require_POST
def capacity(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = CapacityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        actions.set_capacity(data["user"], max_per_day=data["max_per_day"], max_open=data["max_open"])
        messages.success(request, _("Capacity of %(user)s saved.") % {"user": data["user"].display_name})
    else:
        messages.error(request, _("Limits are whole numbers, or blank for none."))
    return redirect("routing:overview")


def _open(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    return contacts.filter(merged_into__isnull=True, stage__outcome=Stage.Outcome.OPEN)


@login_required
def my_leads(request: HttpRequest) -> HttpResponse:
    """What to do next: unanswered leads first (soonest deadline first), then by score."""
    waiting = Assignment.objects.filter(contact=OuterRef("pk"), is_current=True, first_response_at__isnull=True)
    due = Assignment.objects.filter(contact=OuterRef("pk"), is_current=True).values("due_at")[:1]
    contacts = (
        _open(Contact.objects.filter(owner_id=request.user.pk))
        .select_related("stage")
        .annotate(unanswered=Exists(waiting), due_at=due)  # type: ignore[attr-defined]
        .order_by("-unanswered", F("due_at").asc(nulls_last=True), "-score", "-created_at")
    )
    page = get_page(contacts, PAGE, request.GET.get("page"))
    return render(request, "routing/my_leads.html", {"page": page, "now": clock.now()})


def _queue() -> QuerySet[Contact]:
    """Open leads nobody owns: those no rule could place (with the warning) and any captured before routing."""
    return _open(Contact.objects.filter(owner__isnull=True))


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Leads no rule could place, with the warning of each, for a manager to hand out."""
    require_configure(request)
    warning = Assignment.objects.filter(contact=OuterRef("pk"), is_current=True).values("reason")[:1]
    contacts = _queue().select_related("stage").annotate(reason=warning).order_by("-created_at")  # type: ignore[attr-defined]
    page = get_page(contacts, PAGE, request.GET.get("page"))
    return render(request, "routing/queue.html", {"page": page, "form": BulkAssignForm()})


@login_required
def uncared(request: HttpRequest) -> HttpResponse:
    """Owned open leads with no activity for N days, per owner: the manager's follow-up list."""
    require_configure(request)
    try:
        days = max(1, int(request.GET.get("days", UNCARED_DAYS)))
    except ValueError:
        days = UNCARED_DAYS
    cutoff = clock.now() - timedelta(days=days)
    contacts = (
        _open(visible_contacts(request.user).filter(owner__isnull=False))
        .filter(Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff))
        .select_related("stage", "owner")
        .order_by("owner__username", "last_activity_at")  # type: ignore[attr-defined]
    )
    page = get_page(contacts, PAGE, request.GET.get("page"))
    return render(request, "routing/uncared.html", {
        "page": page, "days": days, "keep": f"&days={days}", "form": BulkAssignForm(),
    })  # fmt: skip


@login_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = BulkAssignForm(request.POST)
    if form.is_valid():
        ids = form.cleaned_data["contacts"]
        visible = set(visible_contacts(request.user).filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - visible)
        if missing:
            messages.error(request, _("No such contact: %(ids)s. Nothing was changed.") % {"ids": missing})
        else:
            actions.reassign(ids, form.cleaned_data["user"], actor=request.user, note=form.cleaned_data["note"])  # type: ignore[arg-type]
            messages.success(request, _("%(n)d leads reassigned.") % {"n": len(ids)})
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(request.POST.get("next") or "routing:queue")


@login_required
@require_POST
def assign(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    user: User = request.user  # type: ignore[assignment]
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a rep."))
    elif not user.can_configure and form.cleaned_data["user"] not in (None, user) and contact.owner_id != user.pk:
        raise PermissionDenied
    else:
        actions.reassign([contact.pk], form.cleaned_data["user"], actor=user, note=form.cleaned_data["note"])
        messages.success(request, _("Lead reassigned."))
    return redirect("contacts:detail", contact_id=contact.pk)


@login_required
@require_POST
def log(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The second click of "log a call / message / meeting" on the lead page."""
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    form = ActivityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        log_activity(contact, kind=data["kind"], outcome=data["outcome"], body=data["body"], actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Logged."))
    else:
        messages.error(request, _("Choose what happened."))
    return redirect("contacts:detail", contact_id=contact.pk)


@login_required
def report(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    today = timezone.localdate(clock.now())
    since_day = parse_date(request.GET.get("since") or "") or today - timedelta(days=30)
    until_day = parse_date(request.GET.get("until") or "") or today
    since = timezone.make_aware(datetime.combine(since_day, time.min))
    until = timezone.make_aware(datetime.combine(until_day + timedelta(days=1), time.min))
    rep_rows, team_rows = reports.response_report(since, until)
    return render(request, "routing/report.html", {
        "reps": rep_rows, "teams": team_rows, "since": since_day.isoformat(), "until": until_day.isoformat(),
    })  # fmt: skip
