from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.conditions import CONTACT_FIELDS
from nurture.core.paging import get_page
from nurture.scoring import actions, prediction
from nurture.scoring.forms import RuleForm, ScoringSettingsForm
from nurture.scoring.models import ModelVersion, PointsRule, RescoreRun, ScoreEntry, TrainingRun

LEDGER_PAGE = 50
MODELS_SHOWN = 50


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    config = actions.scoring_settings()
    form = ScoringSettingsForm(
        request.POST or None, initial={"half_life_days": config.half_life_days, "hot": config.hot, "warm": config.warm}
    )
    if request.method == "POST" and form.is_valid():
        run = actions.save_settings(**form.cleaned_data, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Scoring settings saved; everyone is being re-scored."))
        return redirect("scoring:run", run_id=run.pk)
    return render(request, "scoring/rules.html", {
        "rules": PointsRule.objects.all(), "form": form, "runs": RescoreRun.objects.all()[:5],
    })  # fmt: skip


@login_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    require_configure(request)
    rule = get_object_or_404(PointsRule, pk=rule_id) if rule_id else None
    initial = RuleForm.initial_from(rule) if rule else {"is_active": True, "cap_period": "week"}
    form = RuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved, run = actions.save_rule(rule, form.rule_data(), actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Rule “%(name)s” saved; everyone is being re-scored.") % {"name": saved.name})
        return redirect("scoring:run", run_id=run.pk)
    return render(request, "scoring/rule.html", {"form": form, "rule": rule, "contact_fields": CONTACT_FIELDS})


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    require_configure(request)
    rule = get_object_or_404(PointsRule, pk=rule_id)
    run = actions.delete_rule(rule, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Rule deleted; its points are taken back."))
    return redirect("scoring:run", run_id=run.pk)


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    require_configure(request)
    run = get_object_or_404(RescoreRun, pk=run_id)
    template = "scoring/_run_progress.html" if request.headers.get("HX-Request") else "scoring/run.html"
    return render(request, template, {"run": run})


@login_required
def contact_score(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Why this score: the top contributions, then the ledger, newest first."""
    contact = get_object_or_404(visible_contacts(request.user), pk=contact_id)
    ledger = ScoreEntry.objects.filter(contact=contact).select_related("event").order_by("-at", "-id")
    page = get_page(ledger, LEDGER_PAGE, request.GET.get("page"))
    return render(request, "scoring/contact_score.html", {
        "contact": contact, "contributions": actions.explain(contact), "page": page,
        "config": actions.scoring_settings(),
    })  # fmt: skip


@login_required
def models(request: HttpRequest) -> HttpResponse:
    """Predictive scoring: the trained versions with their figures, and the latest training runs."""
    require_configure(request)
    return render(request, "scoring/models.html", {
        "versions": ModelVersion.objects.select_related("trained_by")[:MODELS_SHOWN],
        "runs": TrainingRun.objects.select_related("model_version", "actor")[:5],
        "fallback_text": prediction.fallback_text(), "lost_after_days": settings.NURTURE_SCORING_LOST_AFTER_DAYS,
    })  # fmt: skip


@login_required
@require_POST
def train(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    prediction.start_training(actor=request.user, reason="models page")  # type: ignore[arg-type]
    messages.success(request, _("Training started in the background; its result appears below."))
    return redirect("scoring:models")


@login_required
def training_run(request: HttpRequest, run_id: int) -> HttpResponse:
    require_configure(request)
    run = get_object_or_404(TrainingRun.objects.select_related("model_version"), pk=run_id)
    return render(request, "scoring/_training_run.html", {"run": run})
