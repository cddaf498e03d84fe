from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from nurture.accounts.permissions import require_configure
from nurture.capture import spam
from nurture.capture.actions import save_lead_form, submit_lead_form
from nurture.capture.builder import (
    HONEYPOT,
    TIMESTAMP,
    CustomFieldFormSet,
    LeadFormSettings,
    PublicLeadForm,
    custom_fields_from,
    custom_fields_initial,
)
from nurture.capture.models import LeadForm
from nurture.contacts.leads import InvalidLead
from nurture.contacts.models import Event


@login_required
def form_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    lead_forms = list(LeadForm.objects.order_by("name"))
    submissions = (
        Event.objects.filter(type=Event.Type.FORM_SUBMITTED, source__in=[f"form:{f.slug}" for f in lead_forms])
        .values("source")
        .annotate(n=Count("id"))
    )
    counts = {row["source"]: row["n"] for row in submissions}
    rows = [(f, counts.get(f"form:{f.slug}", 0)) for f in lead_forms]
    return render(request, "capture/form_list.html", {"rows": rows})


@login_required
def form_edit(request: HttpRequest, form_id: int | None = None) -> HttpResponse:
    require_configure(request)
    lead_form = get_object_or_404(LeadForm, pk=form_id) if form_id else LeadForm()
    if request.method == "POST":
        settings_form = LeadFormSettings(request.POST, instance=lead_form)
        custom = CustomFieldFormSet(request.POST, prefix="custom")
        if settings_form.is_valid() and custom.is_valid():
            saved = save_lead_form(
                settings_form.save(commit=False),
                fields=settings_form.standard_fields() + custom_fields_from(custom),
                consent_texts=settings_form.consent_texts(),
                tags=settings_form.tags(),
                user=request.user,  # type: ignore[arg-type]
            )
            messages.success(request, _("Form saved."))
            return redirect("capture:form_edit", form_id=saved.pk)
        status = 422
    else:
        settings_form = LeadFormSettings(instance=lead_form)
        custom = CustomFieldFormSet(prefix="custom", initial=custom_fields_initial(lead_form))
        status = 200
    context = {"lead_form": lead_form, "form": settings_form, "custom": custom}
    if lead_form.pk:
        page_url = request.build_absolute_uri(reverse("capture:hosted_form", args=[lead_form.slug]))
        context["page_url"] = page_url
        context["embed_url"] = request.build_absolute_uri(reverse("capture:form_embed", args=[lead_form.slug]))
    return render(request, "capture/form_edit.html", context, status=status)


def _active_form(slug: str) -> LeadForm:
    lead_form = LeadForm.objects.filter(slug=slug, is_active=True).first()
    if lead_form is None:
        raise Http404(_("No such form."))
    return lead_form


@csrf_exempt  # a public page, embedded on other sites; the signed timestamp guards replays and bots
@xframe_options_exempt
def hosted_form(request: HttpRequest, slug: str) -> HttpResponse:
    lead_form = _active_form(slug)
    embedded = request.GET.get("embed") == "1"
    if request.method != "POST":
        initial = {name: request.GET.get(name, "") for name in ("utm_source", "utm_medium", "utm_campaign",
                                                                 "utm_term", "utm_content")}  # fmt: skip
        # Embedded: the snippet passes the host page's referrer and URL; hosted: the browser says.
        initial["referrer"] = request.GET.get("ref") or request.META.get("HTTP_REFERER", "")
        initial["landing_url"] = request.GET.get("url") or request.build_absolute_uri()
        initial["anonymous_id"] = request.GET.get("aid", "")
        initial[TIMESTAMP] = spam.issue_token()
        form = PublicLeadForm(lead_form, initial=initial)
        return _render_public(request, lead_form, form, embedded)

    ip = spam.client_ip(request)
    if spam.rate_limited(ip):
        return HttpResponse(_("Too many submissions from your address. Please try again in a minute."), status=429)
    form = PublicLeadForm(lead_form, request.POST)
    if request.POST.get(HONEYPOT):
        # A bot filled the hidden field: thank it and keep nothing.
        return _render_thanks(request, lead_form, embedded)
    if spam.too_fast(request.POST.get(TIMESTAMP, "")):
        form = PublicLeadForm(lead_form, request.POST.copy())
        form.data[TIMESTAMP] = spam.issue_token()  # type: ignore[index]
        form.is_valid()
        form.add_error(None, _("That was very quick. Please check your details and send again."))
        return _render_public(request, lead_form, form, embedded, status=422)
    if not form.is_valid():
        return _render_public(request, lead_form, form, embedded, status=422)
    try:
        submit_lead_form(lead_form, form.lead_data(), ip=ip)
    except InvalidLead as exc:
        for error in exc.errors:
            field = error.field if error.field in form.fields else None
            form.add_error(field, f"{error.message}" if field else f"{error.field}: {error.message}")
        return _render_public(request, lead_form, form, embedded, status=422)
    if lead_form.redirect_url:
        return redirect(lead_form.redirect_url)
    return _render_thanks(request, lead_form, embedded)


def _render_public(
    request: HttpRequest, lead_form: LeadForm, form: PublicLeadForm, embedded: bool, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "capture/hosted_form.html",
        {"lead_form": lead_form, "form": form, "embedded": embedded, "honeypot": form[HONEYPOT]},
        status=status,
    )


def _render_thanks(request: HttpRequest, lead_form: LeadForm, embedded: bool) -> HttpResponse:
    return render(request, "capture/thanks.html", {"lead_form": lead_form, "embedded": embedded})


def embed_script(request: HttpRequest, slug: str) -> HttpResponse:
    lead_form = _active_form(slug)
    page = request.build_absolute_uri(reverse("capture:hosted_form", args=[lead_form.slug]))
    # A standalone script, not inline HTML: JSON string literals are safe here.
    context = {"page": json.dumps(page), "slug": json.dumps(lead_form.slug)}
    script = render(request, "capture/embed.js", context).content
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response
