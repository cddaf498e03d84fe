from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from nurture.accounts import people
from nurture.accounts.models import User
from nurture.contacts import actions
from nurture.contacts.access import survivor_id, visible_contacts
from nurture.contacts.filters import SORTS
from nurture.contacts.forms import InboxFilterForm, NoteForm, StageForm
from nurture.contacts.leads import InvalidLead, parse_lead
from nurture.contacts.models import Consent, Contact, Event
from nurture.core.paging import get_page
from nurture.identity.actions import open_pairs
from nurture.identity.models import Merge
from nurture.lifecycle import stages
from nurture.lifecycle.actions import StageError
from nurture.lifecycle.forms import checklist_for
from nurture.lifecycle.models import StageChange
from nurture.lifecycle.presets import ANONYMOUS_STAGE

INBOX_PAGE = 50
TIMELINE_PAGE = 25


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    contacts = visible_contacts(request.user)
    form = InboxFilterForm(request.GET or None, contacts=contacts)
    sort = form.sort_key()
    chosen = form.to_filter()
    qs = chosen.apply(contacts)
    if not chosen.stage:  # anonymous website visitors far outnumber leads: listed when their stage is picked
        qs = qs.exclude(stage__key=ANONYMOUS_STAGE)
    qs = qs.select_related("stage", "owner").order_by(*SORTS[sort])
    page = get_page(qs, INBOX_PAGE, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(
        request,
        "contacts/inbox.html",
        {"form": form, "page": page, "sort": sort, "query": query.urlencode()},
    )


NEW_CONTACT_FIELDS = {
    "full_name": (gettext_lazy("Full name"), "text"), "phone": (gettext_lazy("Phone"), "tel"),
    "email": (gettext_lazy("Email"), "email"), "company": (gettext_lazy("Company"), "text"),
    "job_title": (gettext_lazy("Job title"), "text"), "province": (gettext_lazy("Province"), "text"),
    "address": (gettext_lazy("Address"), "text"), "birth_date": (gettext_lazy("Birth date"), "text"),
    "need": (gettext_lazy("Need"), "textarea"),
}  # fmt: skip


@login_required
def new_contact(request: HttpRequest) -> HttpResponse:
    """Manual entry: the same capture (and matching) as every other channel."""
    values = {name: request.POST.get(name, "").strip() for name in NEW_CONTACT_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            lead = parse_lead({**values, "source": "manual"})
        except InvalidLead as exc:
            errors = {e.field: e.message for e in exc.errors}
        else:
            user: User = request.user  # type: ignore[assignment]
            result = actions.capture_lead(
                lead, event_type=Event.Type.CREATED, cause=StageChange.Cause.USER, actor=user, source_label="manual"
            )
            if result.created and not user.sees_everything:
                # Whoever types a contact in owns it (so a rep can see it), until routing exists.
                contact = Contact.objects.get(pk=result.contact_id)
                actions.update_contact(contact, changes={"owner_id": user.pk}, actor=user, source="manual")
            if not result.created:
                messages.warning(request, _("This person is already a contact; the new details were added here."))
            elif open_pairs().filter(Q(contact_a=result.contact_id) | Q(contact_b=result.contact_id)).exists():
                messages.warning(request, _("Created. It may be a duplicate of another contact: see below."))
            else:
                messages.success(request, _("Contact created."))
            return redirect("contacts:detail", contact_id=result.contact_id)
    fields = [(name, label, kind, values[name], errors.get(name)) for name, (label, kind) in NEW_CONTACT_FIELDS.items()]
    return render(request, "contacts/new.html", {"fields": fields})


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    contact = get_object_or_404(visible_contacts(request.user).select_related("company"), pk=contact_id)
    return stages.attach(people.attach([contact], "owner"), "stage")[0]


@login_required
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    try:
        contact = _contact(request, contact_id)
    except Http404:  # a merged contact's tombstone is not visible: looked up only then, to spare every page a query
        survivor = survivor_id(request.user, contact_id)
        if survivor is None:
            raise
        messages.info(request, _("Contact #%(id)s was merged into this one.") % {"id": contact_id})
        return redirect("contacts:detail", contact_id=survivor)
    return render(
        request,
        "contacts/detail.html",
        {
            "contact": contact,
            "identities": contact.identities.order_by("kind", "created_at"),
            "tags": contact.tags.order_by("name"),
            "consents": _latest_consents(contact),
            "stage_history": stages.attach(
                people.attach(StageChange.objects.filter(contact=contact), "actor"), "from_stage", "to_stage"
            ),
            "timeline": _timeline_page(request, contact),
            # The merged contact's name only: joining its whole row made this the page's costliest query to build.
            "merges": people.attach(
                Merge.objects.filter(survivor=contact).annotate(merged_name=F("merged__full_name")), "actor"
            ),
            "duplicate_pairs": open_pairs().filter(Q(contact_a=contact) | Q(contact_b=contact)),
            "note_form": NoteForm(),
            "stage_form": StageForm(contact=contact),
            "checklist": checklist_for(contact.pk),
        },
    )


def _latest_consents(contact: Contact) -> list[tuple[object, Consent | None]]:
    latest: dict[str, Consent] = {}
    for consent in contact.consents.all():  # newest first (Meta.ordering)
        latest.setdefault(consent.channel, consent)
    return [(label, latest.get(channel)) for channel, label in Consent.Channel.choices]


def _timeline_page(request: HttpRequest, contact: Contact) -> object:
    page = get_page(contact.events.order_by("-at", "-id"), TIMELINE_PAGE, request.GET.get("page"))
    page.object_list = people.attach(page.object_list, "actor")
    return page


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
        try:
            actions.change_stage(
                contact,
                to_stage=form.stages[form.cleaned_data["stage"]],
                cause=StageChange.Cause.USER,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data["reason"],
            )
        except StageError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Stage changed."))
    else:
        messages.error(request, _("Choose a stage and give a reason."))
    return redirect("contacts:detail", contact_id=contact.pk)
