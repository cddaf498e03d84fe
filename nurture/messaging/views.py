"""The messaging pages: templates (with a preview for a real contact), the messages sent, channel policies."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.accounts.permissions import require_configure
from nurture.contacts.access import visible_contacts
from nurture.contacts.models import Contact
from nurture.core.normalise import fold
from nurture.core.paging import get_page
from nurture.messaging import actions
from nurture.messaging.forms import PolicyForm, TemplateForm
from nurture.messaging.models import Channel, Message, Template
from nurture.messaging.rendering import TemplateInvalid, render_text, validate_template, variables

PAGE = 50


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    templates = Template.objects.all()
    channel = request.GET.get("channel", "")
    if channel in Channel.values:
        templates = templates.filter(channel=channel)
    return render(request, "messaging/templates.html", {
        "templates": templates, "channel": channel, "channels": Channel.choices,
    })  # fmt: skip


@login_required
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    require_configure(request)
    template = get_object_or_404(Template, pk=template_id) if template_id else None
    form = TemplateForm(request.POST or None, instance=template, initial={"channel": request.GET.get("channel")})
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.save_template(template, form.cleaned_data)
        except actions.MessagingError as exc:
            form.add_error(exc.field.split(".")[0] if exc.field.split(".")[0] in form.fields else None, exc.message)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
            return redirect("messaging:templates")
    return render(request, "messaging/template_edit.html", {"form": form, "template": template})


@login_required
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    require_configure(request)
    # Sent messages keep their text; they lose only the link to the template.
    get_object_or_404(Template, pk=template_id).delete()
    messages.success(request, _("Template deleted."))
    return redirect("messaging:templates")


def _find_contact(request: HttpRequest, query: str) -> Contact | None:
    """A contact by id, or the most recent whose name, phone or email matches, among those the user may see."""
    query = query.strip()
    contacts = visible_contacts(request.user)
    if not query:
        return None
    if query.isdigit():
        found = contacts.filter(pk=int(query)).first()
        if found is not None:
            return found
    match = Q(name_folded__contains=fold(query)) | Q(email__icontains=query) | Q(phone__contains=query.lstrip("0"))
    return contacts.filter(match).order_by("-created_at").first()


@login_required
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    """The template being edited, rendered for a chosen contact (htmx swaps this into the edit page)."""
    require_configure(request)
    form = TemplateForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    params: dict[str, object] = data["zns_params"] if isinstance(data.get("zns_params"), dict) else {}
    texts = [
        (_("Subject"), data.get("subject") or ""), (_("Body"), data.get("body") or ""),
        (_("SMS text"), data.get("sms_body") or ""), *((f"ZNS {k}", str(v)) for k, v in params.items()),
    ]  # fmt: skip
    contact = _find_contact(request, request.POST.get("preview_contact", ""))
    context: dict[str, object] = {"contact": contact}
    try:
        context["unknown"] = unknown = validate_template([text for _label, text in texts])
        if contact is not None and not unknown:
            channel = data.get("channel") if data.get("channel") in Channel.values else Channel.EMAIL
            values = variables(contact, actions.links(contact, str(channel)))
            context["rendered"] = [(label, render_text(text, values)) for label, text in texts if text]
    except TemplateInvalid as exc:
        context["error"] = str(exc)
    return render(request, "messaging/_preview.html", context)


@login_required
def message_list(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    status, channel = request.GET.get("status", ""), request.GET.get("channel", "")
    found = Message.objects.filter(contact__in=visible_contacts(request.user)).select_related("contact", "template")
    if status in Message.Status.values:
        found = found.filter(status=status)
    if channel in Channel.values:
        found = found.filter(channel=channel)
    page = get_page(found.order_by("-created_at", "-id"), PAGE, request.GET.get("page"))
    return render(request, "messaging/messages.html", {
        "page": page, "status": status, "channel": channel, "statuses": Message.Status.choices,
        "channels": Channel.choices, "keep": f"&status={status}&channel={channel}",
        "failed": Message.objects.filter(status=Message.Status.FAILED).count(),
    })  # fmt: skip


@login_required
@require_POST
def message_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    require_configure(request)
    message = get_object_or_404(Message.objects.filter(contact__in=visible_contacts(request.user)), pk=message_id)
    try:
        actions.retry(message)
    except actions.MessagingError:
        messages.error(request, _("Only a failed message can be retried."))
    else:
        messages.success(request, _("The message is queued again."))
    return redirect(reverse("messaging:messages") + "?status=failed")


@login_required
def policies(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    forms = {ch: PolicyForm(instance=actions.policy(ch), prefix=ch) for ch in Channel.values}
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        if channel in forms:
            form = forms[channel] = PolicyForm(request.POST, instance=actions.policy(channel), prefix=channel)
            if form.is_valid():
                try:
                    actions.save_policy(channel, form.cleaned_data)
                except actions.MessagingError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    messages.success(request, _("Policy for %(channel)s saved.") % {"channel": Channel(channel).label})
                    return redirect("messaging:policies")
    return render(request, "messaging/policies.html", {"forms": [(Channel(ch), f) for ch, f in forms.items()]})
