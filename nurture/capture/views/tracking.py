from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.capture import actions, spam, tracking
from nurture.capture.models import StagedEvent, TrackedSite
from nurture.contacts.leads import InvalidLead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.lifecycle import stages


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    response["Vary"] = "Origin"
    return response


def _error(status: int, loc: list[str | int], code: str, msg: str) -> JsonResponse:
    return JsonResponse({"detail": [{"loc": loc, "type": code, "msg": msg}]}, status=status)


@csrf_exempt  # public and cross-site by design; the allowed origins are its guard
def collect(request: HttpRequest) -> HttpResponse:
    """The snippet's endpoint: validate a batch, stage it in one INSERT, answer 202. Nothing else runs here."""
    origin = request.headers.get("Origin", "")
    sites = tracking.site_cache.get()
    if origin not in sites:
        return _error(403, ["header", "Origin"], "origin_not_allowed", "this origin may not send tracking events")
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    if request.method != "POST":
        return _cors(_error(405, ["method"], "method_not_allowed", "POST a batch"), origin)
    if tracking.rate_limiter.hit(spam.client_ip(request), tracking.client_limit()):
        return _cors(_error(429, ["body"], "rate_limited", "too many batches, try again in a minute"), origin)
    if int(request.META.get("CONTENT_LENGTH") or 0) > tracking.MAX_BODY_BYTES:
        return _cors(_error(413, ["body"], "too_large", f"at most {tracking.MAX_BODY_BYTES} bytes"), origin)
    try:
        rows = tracking.parse_batch(request.body, origin=origin, require_consent=sites[origin], received_at=clock.now())
    except InvalidLead as exc:
        detail = [{"loc": ["body", *e.field.split(".")], "type": e.code, "msg": e.message} for e in exc.errors]
        return _cors(JsonResponse({"detail": detail}, status=422), origin)
    accepted = tracking.ingest(rows)
    return _cors(JsonResponse({"accepted": accepted}, status=202), origin)


def snippet(request: HttpRequest) -> HttpResponse:
    """The tracking snippet, served by Nurture itself: small, no dependencies, no third-party CDN."""
    context = {"collect_path": json.dumps(reverse("capture:track_collect")), "origin": _origin(request)}
    response = HttpResponse(
        render_to_string("capture/nurture.js", context), content_type="application/javascript; charset=utf-8"
    )
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _origin(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class SiteForm(forms.Form):
    origin = forms.CharField(label=gettext_lazy("Website address"), max_length=200,
                             widget=forms.TextInput(attrs={"placeholder": "https://www.example.vn"}))  # fmt: skip
    require_consent = forms.BooleanField(label=gettext_lazy("Ask for consent first"), required=False)

    def clean_origin(self) -> str:
        try:
            return tracking.normalise_origin(self.cleaned_data["origin"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Tracked websites, the snippet to paste, and how many visitors and page views came in."""
    require_configure(request)
    form = SiteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            if TrackedSite.objects.filter(origin=form.cleaned_data["origin"]).exists():
                form.add_error("origin", _("This website is already tracked."))
            else:
                actions.save_tracked_site(TrackedSite(), **form.cleaned_data)
                messages.success(request, _("Website added: page views from it are accepted now."))
                return redirect("capture:tracking")
        status = 422
    today = timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    anonymous = Contact.objects.filter(stage_id=stages.entry_stage_id(anonymous=True), merged_into__isnull=True)
    context = {
        "sites": TrackedSite.objects.order_by("origin"),
        "form": form,
        "snippet_url": request.build_absolute_uri(reverse("capture:track_snippet")),
        "pending": tracking.pending_counts(),
        "failed": StagedEvent.objects.filter(attempts__gte=tracking.MAX_ATTEMPTS).order_by("id")[:20],
        "anonymous_count": anonymous.count(),
        "identified_today": Event.objects.filter(type=Event.Type.IDENTIFIED, at__gte=today).count(),
        "views_today": Event.objects.filter(type=Event.Type.PAGE_VIEWED, at__gte=today).count(),
    }
    return render(request, "capture/tracking.html", context, status=status)


@login_required
@require_POST
def site_toggle(request: HttpRequest, site_id: int) -> HttpResponse:
    require_configure(request)
    site = get_object_or_404(TrackedSite, pk=site_id)
    if request.POST.get("action") == "delete":
        actions.delete_tracked_site(site)
        messages.success(request, _("Website removed: page views from it are refused."))
    else:
        actions.save_tracked_site(site, origin=site.origin, require_consent=request.POST.get("require_consent") == "1",
                                  is_active=request.POST.get("is_active") == "1")  # fmt: skip
        messages.success(request, _("Website saved."))
    return redirect("capture:tracking")


@login_required
@require_POST
def retry_failed(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    count = tracking.retry_failed()
    messages.success(request, _("%(n)d set-aside events will be tried again.") % {"n": count})
    return redirect("capture:tracking")
