from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from nurture.contacts import actions
from nurture.contacts.access import visible_contacts
from nurture.contacts.filters import SORTS
from nurture.contacts.forms import InboxFilterForm, NoteForm, StageForm
from nurture.contacts.models import Consent, Contact
from nurture.lifecycle.models import StageChange

INBOX_PAGE = 50
TIMELINE_PAGE = 25


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    contacts = visible_contacts(request.user)
    form = InboxFilterForm(request.GET or None, contacts=contacts)
    sort = form.sort_key()
    qs = form.to_filter().apply(contacts).select_related("stage", "owner").order_by(*SORTS[sort])
    page = Paginator(qs, INBOX_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(
        request,
        "contacts/inbox.html",
        {"form": form, "page": page, "sort": sort, "query": query.urlencode()},
    )


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    qs = visible_contacts(request.user).select_related("stage", "owner", "company")
    return get_object_or_404(qs, pk=contact_id)


@login_required
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    return render(
        request,
        "contacts/detail.html",
        {
            "contact": contact,
            "identities": contact.identities.order_by("kind", "created_at"),
            "tags": contact.tags.order_by("name"),
            "consents": _latest_consents(contact),
            "stage_history": StageChange.objects.filter(contact=contact).select_related(
                "from_stage", "to_stage", "actor"
            ),
            "timeline": _timeline_page(request, contact),
            "note_form": NoteForm(),
            "stage_form": StageForm(contact=contact),
        },
    )


def _latest_consents(contact: Contact) -> list[tuple[object, Consent | None]]:
    latest: dict[str, Consent] = {}
    for consent in contact.consents.all():  # newest first (Meta.ordering)
        latest.setdefault(consent.channel, consent)
    return [(label, latest.get(channel)) for channel, label in Consent.Channel.choices]


def _timeline_page(request: HttpRequest, contact: Contact) -> object:
    events = contact.events.select_related("actor").order_by("-at", "-id")
    return Paginator(events, TIMELINE_PAGE).get_page(request.GET.get("page"))


@login_required
def timeline(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    return render(
        request, "contacts/_timeline.html", {"contact": contact, "timeline": _timeline_page(request, contact)}
    )


@login_required
@require_POST
def add_note(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        actions.add_note(contact, body=form.cleaned_data["body"], author=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Note added."))
    else:
        messages.error(request, _("A note cannot be blank."))
    return redirect("contacts:detail", contact_id=contact.pk)


@login_required
@require_POST
def change_stage(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    form = StageForm(request.POST, contact=contact)
    if form.is_valid():
        actions.change_stage(
            contact,
            to_stage=form.stages[form.cleaned_data["stage"]],
            cause=StageChange.Cause.USER,
            actor=request.user,  # type: ignore[arg-type]
            reason=form.cleaned_data["reason"],
        )
        messages.success(request, _("Stage changed."))
    else:
        messages.error(request, _("Choose a stage and give a reason."))
    return redirect("contacts:detail", contact_id=contact.pk)
