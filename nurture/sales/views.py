from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.paging import get_page
from nurture.sales import actions, board
from nurture.sales.access import visible_deals, visible_tasks
from nurture.sales.forms import (
    ActivityForm,
    BoardFilterForm,
    ConvertForm,
    DealForm,
    EditDealForm,
    LostForm,
    NextStepForm,
    TaskForm,
    WonForm,
)
from nurture.sales.models import Deal, LostReason, Pipeline, PipelineStage, Task

LIST_PAGE = 50
TIMELINE_PAGE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _deal(request: HttpRequest, deal_id: int) -> Deal:
    qs = visible_deals(request.user).select_related("pipeline", "stage", "contact", "owner", "company", "lost_reason")
    return get_object_or_404(qs, pk=deal_id)


def _errors(form: Any, exc: actions.SalesError) -> None:
    """The action's error on its field, or above the form (a stale version is a hidden field)."""
    shown = exc.field in form.fields and not form.fields[exc.field].widget.is_hidden
    form.add_error(exc.field if shown else None, exc.message)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    first = Pipeline.objects.filter(is_active=True).first() or actions.install_presets()
    return redirect("sales:board", pipeline_id=first.pk)


def _board_context(request: HttpRequest, pipeline: Pipeline, **extra: Any) -> dict[str, Any]:
    form = BoardFilterForm(request.GET or None)
    deals = form.to_filter().apply(visible_deals(request.user))
    query = request.GET.copy()
    return {
        "pipeline": pipeline, "pipelines": Pipeline.objects.filter(is_active=True), "filter_form": form,
        "columns": board.build(pipeline, deals, clock.now()), "query": query.urlencode(), **extra,
    }  # fmt: skip


@login_required
def board_view(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    return render(request, "sales/board.html", _board_context(request, pipeline))


@login_required
@require_POST
def move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """A card dropped on a stage (or moved with the keyboard): the board comes back, with the next step asked
    for when the pipeline requires one, or the current state when the card was stale."""
    extra: dict[str, Any]
    deal = _deal(request, deal_id)
    stage = PipelineStage.objects.filter(pk=request.POST.get("stage") or 0).select_related("pipeline").first()
    next_form = NextStepForm(request.POST if NextStepForm(request.POST).given() else None)
    status, extra = 200, {}
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        if stage is None:
            raise actions.SalesError("stage", _("Choose a stage."))
        next_step = None
        if next_form.is_bound:
            if not next_form.is_valid():
                raise actions.SalesError("next_step", _("Check the next step."))
            next_step = next_form.next_step()
        actions.move_deal(deal, stage=stage, version=version, actor=_user(request), next_step=next_step)
    except actions.StaleDeal as exc:
        status, extra = 409, {"board_error": exc.message}
    except actions.SalesError as exc:
        status = 422
        extra = {"board_error": exc.message}
        if exc.field == "next_step" and stage is not None:
            extra = {"pending": {"deal": deal, "stage": stage, "version": version, "form": next_form}}
    if not request.headers.get("HX-Request"):
        if "board_error" in extra:
            messages.error(request, extra["board_error"])
        elif "pending" in extra:
            messages.error(request, _("Give the next step (what, and when) before moving the deal."))
        return redirect(f"{reverse('sales:board', kwargs={'pipeline_id': deal.pipeline_id})}?{request.GET.urlencode()}")
    return render(request, "sales/_board.html", _board_context(request, deal.pipeline, **extra), status=status)


def _deal_list(request: HttpRequest) -> tuple[Any, Any]:
    form = BoardFilterForm(request.GET or None)
    deals = form.to_filter().apply(visible_deals(request.user))
    status = request.GET.get("status") or "open"
    if status in Deal.Status.values:
        deals = deals.filter(status=status)
    pipeline = request.GET.get("pipeline")
    if pipeline and pipeline.isdigit():
        deals = deals.filter(pipeline_id=int(pipeline))
    deals = board.with_next_step(deals).select_related("contact", "owner", "stage", "pipeline")
    return form, deals.order_by("-created_at", "-id")


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    form, deals = _deal_list(request)
    page = get_page(deals, LIST_PAGE, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "sales/deal_list.html", {
        "filter_form": form, "page": page, "query": query.urlencode(), "statuses": Deal.Status.choices,
        "status": request.GET.get("status") or "open", "pipelines": Pipeline.objects.filter(is_active=True),
    })  # fmt: skip


def _contact(request: HttpRequest, contact_id: Any) -> Contact:
    return get_object_or_404(visible_contacts(request.user).select_related("stage", "company", "owner"),
                             pk=contact_id)  # fmt: skip


@login_required
def deal_new(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A deal for any contact (an upsell to a customer, say); a lead's first deal is made by converting it."""
    contact = _contact(request, contact_id)
    form = DealForm(request.POST or None, initial={"title": contact.display_name, "owner": contact.owner_id})
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            deal = actions.create_deal(contact, pipeline=data["pipeline"], title=data["title"], actor=_user(request),
                                       **form.deal_fields())  # fmt: skip
        except actions.SalesError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Deal created."))
            return redirect("sales:deal", deal_id=deal.pk)
    return render(request, "sales/deal_form.html", {"form": form, "contact": contact, "convert": False})


@login_required
def convert(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = ConvertForm(request.POST or None, initial={"title": contact.need[:200] or contact.display_name,
                                                      "owner": contact.owner_id})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            deal = actions.convert_lead(
                contact, pipeline=form.cleaned_data["pipeline"], title=form.cleaned_data["title"],
                company_name=form.cleaned_data["company_name"], actor=_user(request), **form.deal_fields(),
            )  # fmt: skip
        except actions.SalesError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("Converted: the deal is on the board and the lead is an opportunity (SQO)."))
            return redirect("sales:deal", deal_id=deal.pk)
    return render(request, "sales/deal_form.html", {"form": form, "contact": contact, "convert": True})


def _timeline(request: HttpRequest, deal: Deal) -> Any:
    events = Event.objects.filter(deal=deal).select_related("actor").order_by("-at", "-id")
    return get_page(events, TIMELINE_PAGE, request.GET.get("page"))


@login_required
def deal_detail(request: HttpRequest, deal_id: int, **forms: Any) -> HttpResponse:
    deal = _deal(request, deal_id)
    now = clock.now()
    initial = {
        "title": deal.title, "amount": deal.amount, "currency": deal.currency, "version": deal.version,
        "products": ", ".join(deal.products), "expected_close": deal.expected_close, "owner": deal.owner_id,
    }  # fmt: skip
    return render(request, "sales/deal.html", {
        "deal": deal, "now": now, "rotting": deal.rotting_since(now),
        "stages": deal.pipeline.stages.order_by("position"),
        "tasks": deal.tasks.select_related("assignee").order_by("done_at", "due_at"),
        "timeline": _timeline(request, deal),
        "edit_form": forms.get("edit_form") or EditDealForm(initial=initial),
        "won_form": forms.get("won_form") or WonForm(initial={"version": deal.version, "amount": deal.amount,
                                                             "products": ", ".join(deal.products)}),
        "lost_form": forms.get("lost_form") or LostForm(initial={"version": deal.version}),
        "next_form": NextStepForm(),
    }, status=400 if forms else 200)  # fmt: skip


@login_required
def deal_timeline(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _deal(request, deal_id)
    return render(request, "sales/_timeline.html", {"deal": deal, "timeline": _timeline(request, deal)})


def _deal_change(
    request: HttpRequest,
    deal_id: int,
    form_class: type[Any],
    name: str,
    change: Callable[[Deal, dict[str, Any], Any], object],
    done: str,
) -> HttpResponse:
    """A form on the deal page: on success the change and back to the deal, else the page with the form's errors."""
    deal = _deal(request, deal_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            change(deal, form.cleaned_data, form)
        except actions.SalesError as exc:
            _errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("sales:deal", deal_id=deal.pk)
    return deal_detail(request, deal_id, **{name: form})


@login_required
@require_POST
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _deal_change(request, deal_id, EditDealForm, "edit_form", lambda deal, data, form: actions.update_deal(
        deal, version=data["version"], actor=_user(request), changes={"title": data["title"], **form.deal_fields()},
    ), _("Deal saved."))  # fmt: skip


@login_required
@require_POST
def deal_won(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _deal_change(request, deal_id, WonForm, "won_form", lambda deal, data, form: actions.mark_won(
        deal, version=data["version"], actor=_user(request), amount=data["amount"] or None,
        products=data["products"] or None, ordered_on=data["ordered_on"],
    ), _("Won! The order is recorded and the contact is a customer."))  # fmt: skip


@login_required
@require_POST
def deal_lost(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _deal_change(request, deal_id, LostForm, "lost_form", lambda deal, data, form: actions.mark_lost(
        deal, version=data["version"], reason=data["reason"], note=data["note"], actor=_user(request),
    ), _("Deal marked lost."))  # fmt: skip


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


@login_required
@require_POST
def task_new(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = TaskForm(request.POST)
    deal_id = request.POST.get("deal")
    deal = _deal(request, int(deal_id)) if deal_id and deal_id.isdigit() else None
    fallback = f"/sales/deals/{deal.pk}/" if deal else f"/contacts/{contact.pk}/"
    if form.is_valid():
        data = form.cleaned_data
        assignee = User.objects.filter(pk=data["assignee"]).first() if data["assignee"] else _user(request)
        try:
            actions.add_task(title=data["title"], kind=data["kind"], due_at=data["due_at"], remind_at=form.remind_at(),
                             assignee=assignee, contact=contact, deal=deal, actor=_user(request))  # fmt: skip
        except actions.SalesError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Task added."))
    else:
        messages.error(
            request, "; ".join(f"{form.fields[f].label}: {' '.join(map(str, e))}" for f, e in form.errors.items())
        )
    return _back(request, fallback)


@login_required
@require_POST
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    task = get_object_or_404(visible_tasks(request.user), pk=task_id)
    actions.complete_task(task, actor=_user(request))
    messages.success(request, _("Done: %(task)s") % {"task": task.title})
    return _back(request, "/sales/agenda/")


@login_required
@require_POST
def log(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Quick logging from the lead or deal page: a call, meeting, note or message on any channel."""
    contact = _contact(request, contact_id)
    form = ActivityForm(request.POST)
    form.fields["deal"].choices = [("", "—"), *[(str(d), str(d)) for d in request.POST.getlist("deal")]]  # type: ignore[attr-defined]
    if form.is_valid():
        data = form.cleaned_data
        deal = _deal(request, data["deal"]) if data["deal"] else None
        try:
            actions.log_activity(contact, kind=data["kind"], outcome=data["outcome"], body=data["body"], deal=deal,
                                 actor=_user(request))  # fmt: skip
        except actions.SalesError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Logged."))
    else:
        messages.error(request, _("Choose what to log."))
    return _back(request, f"/contacts/{contact.pk}/")


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    return start, start + timedelta(days=1)


@login_required
def agenda(request: HttpRequest) -> HttpResponse:
    """Today's tasks of the user, what is overdue, and their rotting deals."""
    now = clock.now()
    _start, end = _day_bounds(now)
    user = _user(request)
    open_tasks = Task.objects.filter(assignee=user, done_at__isnull=True).select_related("contact", "deal")
    return render(request, "sales/agenda.html", {
        "overdue": open_tasks.filter(due_at__lt=now), "today": open_tasks.filter(due_at__gte=now, due_at__lt=end),
        "rotting": actions.rotting_deals(now, Deal.objects.filter(owner=user)), "now": now,
    })  # fmt: skip


@login_required
def overdue(request: HttpRequest) -> HttpResponse:
    """Overdue work per rep: the manager's view (a rep sees their team's)."""
    now = clock.now()
    tasks = visible_tasks(request.user).filter(done_at__isnull=True, due_at__lt=now)
    rows: dict[int | None, dict[str, Any]] = {}

    def row(user_id: int | None) -> dict[str, Any]:
        return rows.setdefault(user_id, {"user": None, "tasks": 0, "rotting": []})

    for counted in tasks.values("assignee").annotate(n=Count("id")):
        row(counted["assignee"])["tasks"] = counted["n"]
    for deal in actions.rotting_deals(now, visible_deals(request.user)):
        row(deal.owner_id)["rotting"].append(deal)
    users = User.objects.in_bulk([u for u in rows if u is not None])
    for user_id, r in rows.items():
        r["user"] = users.get(user_id) if user_id is not None else None
    ordered = sorted(rows.values(), key=lambda r: (-(r["tasks"] + len(r["rotting"])), str(r["user"] or "")))
    return render(request, "sales/overdue.html", {
        "rows": ordered, "now": now,
        "tasks": tasks.select_related("assignee", "contact", "deal").order_by("assignee_id", "due_at")[:200],
    })  # fmt: skip


@login_required
def pipelines(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    return render(request, "sales/pipelines.html", {"pipelines": Pipeline.objects.prefetch_related("stages")})


BLANK_REASONS = 3


def _reason_rows(post: Any) -> tuple[list[actions.LostReasonInput], list[str]]:
    """The rows of the lost-reasons form, in order; a row whose English name is cleared is left out."""
    active = set(post.getlist("active"))  # row numbers: an unticked box is not posted at all
    rows, errors = [], []
    columns = zip(post.getlist("reason_id"), post.getlist("name_en"), post.getlist("name_vi"), strict=False)
    for i, (reason_id, name_en, name_vi) in enumerate(columns):
        if not name_en.strip():
            continue
        if reason_id and not reason_id.isdigit():
            errors.append(_("Row %(n)s: not a lost reason of this list.") % {"n": i + 1})
            continue
        rows.append(actions.LostReasonInput(name_en, name_vi, str(i) in active, int(reason_id) if reason_id else None))
    return rows, errors


@login_required
def lost_reasons(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    errors: list[str] = []
    shown: list[dict[str, Any]]
    if request.method == "POST":
        rows, errors = _reason_rows(request.POST)
        if not errors:
            try:
                actions.save_lost_reasons(rows)
            except actions.SalesError as exc:
                errors.append(exc.message)
            else:
                messages.success(request, _("Lost reasons saved."))
                return redirect("sales:lost_reasons")
        shown = [{"pk": r.id or "", "name_en": r.name_en, "name_vi": r.name_vi, "is_active": r.is_active} for r in rows]
    else:
        shown = [dict(r) for r in LostReason.objects.values("pk", "name_en", "name_vi", "is_active")]
    used = dict(Deal.objects.filter(lost_reason__isnull=False).values_list("lost_reason").annotate(n=Count("id")))
    for row in shown:
        row["deals"] = used.get(row["pk"], 0)
    return render(request, "sales/lost_reasons.html", {
        "reasons": shown, "blank_rows": range(len(shown), len(shown) + BLANK_REASONS), "errors": errors,
    })  # fmt: skip


def _stage_rows(post: Any) -> tuple[list[actions.StageInput], list[str]]:
    """The stage rows of the pipeline form, in order; a row whose name is cleared is removed."""
    rows, errors = [], []
    columns = zip(post.getlist("stage_id"), post.getlist("name_en"), post.getlist("name_vi"),
                  post.getlist("probability"), post.getlist("rotting_days"), strict=False)  # fmt: skip
    for i, (stage_id, name_en, name_vi, probability, rotting) in enumerate(columns, start=1):
        if not name_en.strip():
            continue
        try:
            rows.append(actions.StageInput(name_en, name_vi, int(probability or 0), int(rotting) if rotting else None,
                                           int(stage_id) if stage_id else None))  # fmt: skip
        except ValueError:
            errors.append(_("Row %(n)s: probability and rotting days are whole numbers.") % {"n": i})
    return rows, errors


@login_required
def pipeline_edit(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    require_configure(request)
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id) if pipeline_id else None
    errors: list[str] = []
    if request.method == "POST":
        rows, errors = _stage_rows(request.POST)
        if not errors:
            try:
                saved = actions.save_pipeline(
                    pipeline, name_en=request.POST.get("pipeline_name_en", ""),
                    name_vi=request.POST.get("pipeline_name_vi", ""), stages=rows,
                    require_next_step=bool(request.POST.get("require_next_step")),
                    is_active=bool(request.POST.get("is_active")),
                )  # fmt: skip
            except actions.SalesError as exc:
                errors.append(exc.message)
            else:
                messages.success(request, _("Pipeline “%(name)s” saved.") % {"name": saved.name})
                return redirect("sales:pipelines")
    stages = list(pipeline.stages.order_by("position")) if pipeline else []
    return render(request, "sales/pipeline.html", {
        "pipeline": pipeline, "stages": stages, "blank_rows": range(3), "errors": errors, "post": request.POST,
    })  # fmt: skip
