from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.capture import actions, attribution
from nurture.capture.models import Campaign, CostEntry
from nurture.core import clock
from nurture.core.money import format_vnd, parse_amount

MODEL_LABELS = {
    "first_touch": gettext_lazy("First touch"),
    "last_touch": gettext_lazy("Last touch"),
    "linear": gettext_lazy("Linear (equal shares)"),
}
GROUP_LABELS = {"channel": gettext_lazy("Channel"), "campaign": gettext_lazy("Campaign")}
REPORT_DAYS = 30
# Chart geometry (SVG user units): a label column, then bars scaled to the largest value.
LABEL_WIDTH, BAR_AREA, ROW_HEIGHT = 170, 520, 30
COLOURS = {"leads": "#0f766e", "customers": "#2563eb", "cost": "#dc2626", "revenue": "#16a34a"}


class ReportForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    model = forms.ChoiceField(label=gettext_lazy("Model"), choices=list(MODEL_LABELS.items()), required=False)
    group = forms.ChoiceField(label=gettext_lazy("By"), choices=list(GROUP_LABELS.items()), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate(clock.now())
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=REPORT_DAYS - 1)
        data["model"] = data.get("model") or "linear"
        data["group"] = data.get("group") or "channel"
        if data["end"] < data["start"]:
            self.add_error("end", _("The end is before the start."))
        return data


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


def bar_chart(rows: list[attribution.Row], series: list[tuple[str, str]], money: bool) -> dict[str, Any]:
    """Horizontal grouped bars, one group per row, one bar per series, as SVG geometry for the template."""
    top = max((getattr(r, name) for r in rows for name, _label in series), default=0) or 1
    bar_height = (ROW_HEIGHT - 8) / len(series)
    bars, labels = [], []
    for i, row in enumerate(rows):
        y = i * ROW_HEIGHT
        labels.append({"y": y + ROW_HEIGHT / 2 + 4, "text": row.label[:28]})
        for j, (name, label) in enumerate(series):
            value = getattr(row, name)
            shown = format_vnd(round(value)) if money else f"{value:.1f}".rstrip("0").rstrip(".")
            bars.append(Bar(LABEL_WIDTH, y + 4 + j * bar_height, max(BAR_AREA * value / top, 1 if value else 0),
                            bar_height - 1, COLOURS[name], f"{row.label} · {label}: {shown}"))  # fmt: skip
    legend = [{"colour": COLOURS[name], "label": label} for name, label in series]
    return {"bars": bars, "labels": labels, "height": max(len(rows), 1) * ROW_HEIGHT, "legend": legend,
            "width": LABEL_WIDTH + BAR_AREA + 10}  # fmt: skip


def _report(request: HttpRequest) -> tuple[ReportForm, attribution.Report | None]:
    # Every field is optional: an empty query shows the last 30 days, linear, by channel (selected in the form too).
    form = ReportForm({"model": "linear", "group": "channel", **request.GET.dict()})
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    return form, attribution.report(data["start"], data["end"], model=data["model"], group=data["group"])


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """Leads, customers and revenue by channel or campaign under a chosen model, with cost, CPL, CPC, ROI."""
    require_configure(request)
    form, result = _report(request)
    context: dict[str, Any] = {"form": form, "result": result, "campaign_count": Campaign.objects.count()}
    if result is not None:
        rows = result.rows[:15]
        context["leads_chart"] = bar_chart(rows, [("leads", _("Leads")), ("customers", _("Customers"))], money=False)
        context["money_chart"] = bar_chart(rows, [("cost", _("Cost")), ("revenue", _("Revenue"))], money=True)
        context["query"] = request.GET.urlencode()
        context["model_label"] = MODEL_LABELS[result.model]
    return render(request, "capture/attribution.html", context, status=200 if result else 422)


@login_required
def report_csv(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form, result = _report(request)
    if result is None:
        errors = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return HttpResponse(errors, content_type="text/plain; charset=utf-8", status=422)
    response = HttpResponse(attribution.report_csv(result), content_type="text/csv; charset=utf-8")
    name = f"attribution-{result.model}-{result.group}-{result.start}-{result.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = list(actions.CAMPAIGN_FIELDS)


class CostForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                          help_text=gettext_lazy("Empty for one day"))  # fmt: skip
    amount = forms.CharField(label=gettext_lazy("Amount (VND)"), max_length=30,
                             widget=forms.TextInput(attrs={"placeholder": "1.500.000"}))  # fmt: skip
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def clean_amount(self) -> int:
        try:
            amount = parse_amount(self.cleaned_data["amount"])
        except ValueError:
            raise forms.ValidationError(_("An amount in đồng, e.g. 1.500.000.")) from None
        if amount < 0:
            raise forms.ValidationError(_("A cost cannot be negative."))
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("The end is before the start."))
        return data


def _save_campaign(campaign: Campaign, form: CampaignForm) -> Campaign | None:
    if not form.is_valid():
        return None
    try:
        return actions.save_campaign(campaign, {k: form.cleaned_data[k] for k in actions.CAMPAIGN_FIELDS})
    except actions.CampaignError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


@login_required
def campaigns(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = CampaignForm(request.POST or None, instance=Campaign())
    if request.method == "POST":
        saved = _save_campaign(form.instance, form)
        if saved is not None:
            messages.success(request, _("Campaign saved."))
            return redirect("capture:campaign", campaign_id=saved.pk)
    today = timezone.localdate(clock.now())
    spend = attribution.prorated_costs(today.replace(day=1), today)
    rows = [(c, round(spend.get(c.pk, 0))) for c in Campaign.objects.all()]
    return render(request, "capture/campaigns.html", {"form": form, "rows": rows},
                  status=422 if form.errors else 200)  # fmt: skip


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    require_configure(request)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    form = CampaignForm(instance=campaign)
    cost_form = CostForm()
    status = 200
    if request.method == "POST" and request.POST.get("form") == "campaign":
        form = CampaignForm(request.POST, instance=campaign)
        if _save_campaign(campaign, form) is not None:
            messages.success(request, _("Campaign saved."))
            return redirect("capture:campaign", campaign_id=campaign.pk)
        status = 422
    elif request.method == "POST":
        cost_form = CostForm(request.POST)
        if cost_form.is_valid():
            data = cost_form.cleaned_data
            item = actions.CostInput(
                campaign, data["start"], data["end"] or data["start"], data["amount"], data["note"]
            )
            actions.record_costs([item], source="manual", user=request.user)  # type: ignore[arg-type]
            messages.success(request, _("Cost saved."))
            return redirect("capture:campaign", campaign_id=campaign.pk)
        status = 422
    context = {"campaign": campaign, "form": form, "cost_form": cost_form, "costs": campaign.costs.all()[:200]}
    return render(request, "capture/campaign.html", context, status=status)


@login_required
@require_POST
def cost_delete(request: HttpRequest, cost_id: int) -> HttpResponse:
    require_configure(request)
    entry = get_object_or_404(CostEntry, pk=cost_id)
    actions.delete_cost(entry)
    messages.success(request, _("Cost removed."))
    return redirect("capture:campaign", campaign_id=entry.campaign_id)


@login_required
@require_POST
def costs_import(request: HttpRequest) -> HttpResponse:
    """Costs from a CSV export of the ad platforms (campaign, start, end, amount): all rows or none."""
    require_configure(request)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV file."))
        return redirect("capture:campaigns")
    try:
        text = upload.read().decode("utf-8-sig")
        count = actions.import_costs(text, source=f"import:{upload.name}"[:100], user=request.user)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        messages.error(request, _("The file is not UTF-8 text."))
    except actions.CampaignError as exc:
        messages.error(request, _("Nothing was imported. Row %(row)s, %(field)s: %(msg)s")
                       % {"row": exc.row, "field": exc.field, "msg": exc.message})  # fmt: skip
    else:
        messages.success(request, _("%(n)d cost entries imported.") % {"n": count})
    return redirect("capture:campaigns")
