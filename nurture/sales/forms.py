"""The pipeline's forms: each cleans its input into what an action takes, errors on the field at fault."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import Team, User
from nurture.accounts.people import active as active_people
from nurture.contacts.actions import OUTCOMES, OUTCOMES_OF
from nurture.core.money import DEFAULT_CURRENCY, parse_amount
from nurture.sales.actions import ACTIVITY_KINDS, NextStep
from nurture.sales.board import BoardFilter
from nurture.sales.models import LostReason, Pipeline, Task

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
REMINDERS = [
    ("", _("No reminder")), ("0", _("At the due time")), ("15", _("15 minutes before")),
    ("60", _("1 hour before")), ("1440", _("1 day before")),
]  # fmt: skip


def people() -> list[tuple[str, str]]:
    return [(str(p.pk), p.name) for p in active_people()]


class AmountField(forms.CharField):
    """An amount as typed in Vietnam ("1.500.000", "1,5 triệu" is not accepted): a whole, non-negative number."""

    def clean(self, value: Any) -> int:
        text = super().clean(value)
        if not text:
            return 0
        try:
            amount = parse_amount(text)
        except ValueError:
            raise forms.ValidationError(_("Enter an amount in digits, e.g. 15.000.000.")) from None
        if amount < 0:
            raise forms.ValidationError(_("An amount cannot be negative."))
        return amount


class ProductsField(forms.CharField):
    """Product lines, one per line or comma-separated."""

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


class DealForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    pipeline = forms.ModelChoiceField(Pipeline.objects.filter(is_active=True), label=_("Pipeline"), empty_label=None)
    amount = AmountField(label=_("Amount"), required=False)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial=DEFAULT_CURRENCY)
    products = ProductsField(label=_("Product lines"), required=False, help_text=_("Comma-separated"))
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DATE_INPUT)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—"), *people()]  # type: ignore[attr-defined]

    def deal_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        owner = User.objects.filter(pk=data["owner"]).first() if data.get("owner") else None
        return {
            "amount": data["amount"], "currency": data["currency"], "products": data["products"],
            "expected_close": data["expected_close"], "owner": owner,
        }  # fmt: skip


class ConvertForm(DealForm):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    company_name = forms.CharField(label=_("Company (created if the lead has none)"), max_length=200, required=False)


class EditDealForm(DealForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["pipeline"]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


class TaskForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Task.Kind.choices)
    title = forms.CharField(label=_("What"), max_length=200)
    due_at = forms.DateTimeField(label=_("Due"), widget=DATETIME_INPUT)
    remind = forms.ChoiceField(label=_("Reminder"), choices=REMINDERS, required=False)
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Me")), *people()]  # type: ignore[attr-defined]

    def clean_due_at(self) -> datetime | None:
        return _aware(self.cleaned_data["due_at"])

    def remind_at(self) -> datetime | None:
        minutes = self.cleaned_data.get("remind")
        if not minutes:
            return None
        return self.cleaned_data["due_at"] - timedelta(minutes=int(minutes))


class NextStepForm(forms.Form):
    """The next step asked for when a deal moves; prefixed so it sits beside the move's own fields."""

    prefix = "next"
    kind = forms.ChoiceField(label=_("Kind"), choices=Task.Kind.choices, initial=Task.Kind.CALL)
    title = forms.CharField(label=_("Next step"), max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    due_at = forms.DateTimeField(label=_("Due"), widget=DATETIME_INPUT)
    remind = forms.ChoiceField(label=_("Reminder"), choices=REMINDERS, required=False, initial="15")

    def clean_due_at(self) -> datetime | None:
        return _aware(self.cleaned_data["due_at"])

    def given(self) -> bool:
        return any(self.data.get(f"{self.prefix}-{name}") for name in ("title", "due_at"))

    def next_step(self) -> NextStep:
        data = self.cleaned_data
        minutes = data.get("remind")
        remind_at = data["due_at"] - timedelta(minutes=int(minutes)) if minutes else None
        return NextStep(title=data["title"], due_at=data["due_at"], kind=data["kind"], remind_at=remind_at)


class WonForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    amount = AmountField(label=_("Order amount"), required=False)
    products = ProductsField(label=_("Products"), required=False)
    ordered_on = forms.DateField(label=_("Order date"), required=False, widget=DATE_INPUT)


class LostForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.ModelChoiceField(LostReason.objects.filter(is_active=True), label=_("Reason"))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


ACTIVITY_LABELS = {
    "call": _("Call"), "meeting": _("Meeting"), "note": _("Note"), "email": _("Email"), "sms": _("SMS"),
    "zalo": _("Zalo"), "facebook": _("Facebook"),
}  # fmt: skip


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Activity"), choices=[(k, ACTIVITY_LABELS[k]) for k in ["note", *ACTIVITY_KINDS]])
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False,
        choices=[("", "—"), *[(v, OUTCOMES[v]) for v in dict.fromkeys(o for vs in OUTCOMES_OF.values() for o in vs)]],
    )  # fmt: skip
    body = forms.CharField(
        label=_("Details"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    deal = forms.TypedChoiceField(label=_("Deal"), required=False, coerce=int, empty_value=None)


class BoardFilterForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), required=False, coerce=int, empty_value=None)
    close_from = forms.DateField(label=_("Closing from"), required=False, widget=DATE_INPUT)
    close_to = forms.DateField(label=_("to"), required=False, widget=DATE_INPUT)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Everyone")), *people()]  # type: ignore[attr-defined]
        teams = [(str(t.pk), t.name) for t in Team.objects.order_by("name")]
        self.fields["team"].choices = [("", _("All teams")), *teams]  # type: ignore[attr-defined]

    def to_filter(self) -> BoardFilter:
        if not self.is_valid():
            return BoardFilter()
        d = self.cleaned_data
        return BoardFilter(owner_id=d["owner"], team_id=d["team"], close_from=d["close_from"], close_to=d["close_to"])
