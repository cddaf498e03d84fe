from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from nurture.accounts.models import User
from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.models import Contact
from nurture.core.paging import get_page
from nurture.identity import actions
from nurture.identity.actions import CHOOSABLE, MergeError
from nurture.identity.candidates import current_config
from nurture.identity.forms import DedupeForm, MatchSettingsForm
from nurture.identity.models import DedupeRun, DuplicatePair, MatchSettings, Merge

QUEUE_PAGE = 25
# Fields shown side by side on the review screen; those in CHOOSABLE can be picked.
COMPARED: list[tuple[str, Any]] = [
    ("full_name", gettext_lazy("Name")), ("phone", gettext_lazy("Phone")), ("email", gettext_lazy("Email")),
    ("company_id", gettext_lazy("Company")), ("job_title", gettext_lazy("Job title")),
    ("industry", gettext_lazy("Industry")), ("province", gettext_lazy("Province")),
    ("address", gettext_lazy("Address")), ("birth_date", gettext_lazy("Birth date")),
    ("gender", gettext_lazy("Gender")), ("need", gettext_lazy("Need")), ("owner_id", gettext_lazy("Owner")),
    ("stage_id", gettext_lazy("Stage")), ("source", gettext_lazy("Source")), ("campaign", gettext_lazy("Campaign")),
    ("created_at", gettext_lazy("Created")),
]  # fmt: skip


def visible_open_pairs(user: User | Any) -> QuerySet[DuplicatePair]:
    visible = visible_contacts(user).values("pk")
    return actions.open_pairs().filter(contact_a__in=visible, contact_b__in=visible)


def _pair(request: HttpRequest, pair_id: int) -> DuplicatePair:
    visible = visible_contacts(request.user).values("pk")
    qs = DuplicatePair.objects.filter(contact_a__in=visible, contact_b__in=visible)
    return get_object_or_404(qs.select_related("contact_a", "contact_b"), pk=pair_id)


def _shown(contact: Contact, name: str) -> str:
    if name == "company_id":
        return str(contact.company or "")
    if name == "owner_id":
        return contact.owner.display_name if contact.owner else ""
    if name == "stage_id":
        return contact.stage.name
    if name == "birth_date":
        return contact.birth_date.strftime("%d/%m/%Y") if contact.birth_date else ""
    if name == "created_at":
        return timezone.localtime(contact.created_at).strftime("%d/%m/%Y %H:%M")
    if name == "gender":
        return str(contact.get_gender_display()) if contact.gender else ""
    return str(getattr(contact, name) or "")


def _rows(a: Contact, b: Contact) -> list[dict[str, Any]]:
    rows = []
    for name, label in COMPARED:
        left, right = _shown(a, name), _shown(b, name)
        rows.append({"name": name, "label": label, "a": left, "b": right, "differs": left != right,
                     "choosable": name in CHOOSABLE and left != right and bool(left) and bool(right)})  # fmt: skip
    return rows


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    pairs = visible_open_pairs(request.user).select_related("contact_a", "contact_b")
    page = get_page(pairs, QUEUE_PAGE, request.GET.get("page"))
    items = [{"pair": p, "rows": [r for r in _rows(p.contact_a, p.contact_b)[:8] if r["a"] or r["b"]]} for p in page]
    return render(request, "identity/queue.html", {"page": page, "items": items})


@login_required
def pair_detail(request: HttpRequest, pair_id: int) -> HttpResponse:
    pair = _pair(request, pair_id)
    a, b = pair.contact_a, pair.contact_b
    older = min((a, b), key=lambda c: (c.created_at, c.pk))
    return render(
        request,
        "identity/pair.html",
        {"pair": pair, "a": a, "b": b, "rows": _rows(a, b), "default_survivor": older.pk,
         "identities": {c.pk: list(c.identities.order_by("kind")) for c in (a, b)}},
    )  # fmt: skip


def _after(request: HttpRequest) -> HttpResponse:
    nxt = visible_open_pairs(request.user).first()
    return redirect("identity:pair", pair_id=nxt.pk) if nxt and request.POST.get("next") else redirect("identity:queue")


@login_required
@require_POST
def merge_pair(request: HttpRequest, pair_id: int) -> HttpResponse:
    pair = _pair(request, pair_id)
    try:
        survivor_id = int(request.POST.get("survivor") or 0) or None
    except ValueError:
        survivor_id = None
    survivor_id = survivor_id or min((pair.contact_a, pair.contact_b), key=lambda c: (c.created_at, c.pk)).pk
    choices = {}
    for name in CHOOSABLE:
        keep = request.POST.get(f"keep_{name}")
        if keep:
            choices[name] = "survivor" if keep == str(survivor_id) else "merged"
    try:
        merge = actions.merge_pair(pair, actor=request.user, survivor_id=survivor_id, choices=choices)  # type: ignore[arg-type]
    except MergeError as exc:
        messages.error(request, str(exc))
        return redirect("identity:pair", pair_id=pair.pk)
    messages.success(request, _("Merged into %(name)s.") % {"name": merge.survivor})
    return _after(request)


@login_required
@require_POST
def not_same(request: HttpRequest, pair_id: int) -> HttpResponse:
    try:
        actions.mark_not_same(_pair(request, pair_id), actor=request.user)  # type: ignore[arg-type]
    except MergeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Marked as two different people; this pair will not be proposed again."))
    return _after(request)


@login_required
@require_POST
def skip(request: HttpRequest, pair_id: int) -> HttpResponse:
    actions.skip(_pair(request, pair_id))
    return _after(request)


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action")
    ids = [int(i) for i in request.POST.getlist("pair") if i.isdigit()]
    pairs = visible_open_pairs(request.user).filter(pk__in=ids).select_related("contact_a", "contact_b")
    if action not in ("merge", "not_same") or not ids:
        messages.error(request, _("Select pairs and an action."))
        return redirect("identity:queue")
    done, failed = 0, []
    for pair in pairs:
        try:
            if action == "merge":
                actions.merge_pair(pair, actor=request.user)  # type: ignore[arg-type]
            else:
                actions.mark_not_same(pair, actor=request.user)  # type: ignore[arg-type]
            done += 1
        except MergeError as exc:
            failed.append(f"#{pair.pk}: {exc}")
    messages.success(request, _("%(count)d pairs done.") % {"count": done})
    for message in failed:
        messages.error(request, message)
    return redirect("identity:queue")


@login_required
@require_POST
def merge_into(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Merge another contact (by its number) into this one, from the contact page."""
    survivor = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    raw = request.POST.get("other_id", "").strip().lstrip("#")
    other = visible_contacts(request.user).filter(pk=int(raw)).first() if raw.isdigit() else None
    if other is None:
        messages.error(request, _("Contact to merge: no contact #%(id)s that you can see.") % {"id": raw})
        return redirect("contacts:detail", contact_id=contact_id)
    try:
        actions.merge_contacts(survivor, other, actor=request.user)  # type: ignore[arg-type]
    except MergeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s was merged into this contact.") % {"name": other})
    return redirect("contacts:detail", contact_id=contact_id)


@login_required
@require_POST
def undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    visible = visible_contacts(request.user).values("pk")
    merge = get_object_or_404(Merge.objects.filter(survivor__in=visible), pk=merge_id)
    try:
        restored = actions.unmerge(merge, actor=request.user)  # type: ignore[arg-type]
    except MergeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Merge undone: %(name)s is a contact of its own again.") % {"name": restored})
    return redirect("contacts:detail", contact_id=merge.survivor_id)


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = DedupeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        run = actions.start_dedupe(
            actor=request.user,  # type: ignore[arg-type]
            dry_run=form.cleaned_data["dry_run"],
            auto_merge_above=form.cleaned_data["auto_merge_above"],
        )
        return redirect("identity:run", run_id=run.pk)
    return render(request, "identity/runs.html", {"form": form, "runs": DedupeRun.objects.all()[:50]})


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    require_configure(request)
    run = get_object_or_404(DedupeRun, pk=run_id)
    template = "identity/_run_progress.html" if request.headers.get("HX-Request") else "identity/run.html"
    return render(request, template, {"run": run})


@login_required
def run_report(request: HttpRequest, run_id: int) -> FileResponse:
    require_configure(request)
    run = get_object_or_404(DedupeRun, pk=run_id)
    path = Path(run.report)
    if not run.report or not path.is_file() or Path(settings.VAR_DIR).resolve() not in path.resolve().parents:
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"dedupe-{run.pk}.csv")


@login_required
def match_settings(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    row = MatchSettings.objects.first() or MatchSettings()
    form = MatchSettingsForm(request.POST or None, initial=MatchSettingsForm.initial_from(current_config()))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.save_match_settings(
            auto_merge=data["auto_merge"], review=data["review"], prior=data["prior"], weights=form.weights()
        )
        messages.success(request, _("Matching settings saved."))
        return redirect("identity:settings")
    return render(request, "identity/settings.html", {"form": form, "row": row})
