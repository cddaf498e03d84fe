from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import User
from nurture.contacts.filters import DEFAULT_SORT, SORTS, ContactFilter
from nurture.contacts.models import Contact
from nurture.lifecycle.stages import active_stages


class InboxFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    source = forms.ChoiceField(label=_("Source"), required=False)
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    created_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label=_("Created to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS], widget=forms.HiddenInput)

    def __init__(self, *args: Any, contacts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everyone = [("", _("All"))]
        cast(forms.ChoiceField, self.fields["stage"]).choices = everyone + [(s.key, s.name) for s in active_stages()]
        sources = contacts.exclude(source="").values_list("source", flat=True).distinct().order_by("source")
        cast(forms.ChoiceField, self.fields["source"]).choices = everyone + [(s, s) for s in sources]
        campaigns = contacts.exclude(campaign="").values_list("campaign", flat=True).distinct().order_by("campaign")
        cast(forms.ChoiceField, self.fields["campaign"]).choices = everyone + [(c, c) for c in campaigns]
        owners = User.objects.filter(is_active=True).order_by("first_name", "username")
        cast(forms.ChoiceField, self.fields["owner"]).choices = (
            everyone + [("none", _("Unassigned"))] + [(str(u.pk), u.display_name) for u in owners]
        )

    def to_filter(self) -> ContactFilter:
        data = self.cleaned_data if self.is_valid() else {}
        return ContactFilter(
            q=data.get("q", ""),
            stage=data.get("stage", ""),
            source=data.get("source", ""),
            campaign=data.get("campaign", ""),
            owner=data.get("owner", ""),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
        )

    def sort_key(self) -> str:
        return (self.cleaned_data.get("sort") if self.is_valid() else "") or DEFAULT_SORT


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("A note cannot be blank."))
        return body


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"))
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stages = {str(s.pk): s for s in active_stages()}
        cast(forms.ChoiceField, self.fields["stage"]).choices = [(pk, s.name) for pk, s in self.stages.items()]
        self.fields["stage"].initial = str(contact.stage_id)
