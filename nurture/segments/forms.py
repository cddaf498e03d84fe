from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.segments.actions import SegmentError, validate_segment
from nurture.segments.models import Segment

MAX_IDS = 10_000
ID_SEPARATORS = re.compile(r"[\s,;]+")


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label=_("Kind"), choices=Segment.Kind.choices, initial=Segment.Kind.DYNAMIC)
    conditions_json = forms.CharField(
        label=_("Conditions (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("Dynamic segments only; a static list's members are added by hand."),
    )  # fmt: skip

    def __init__(self, *args: Any, segment: Segment | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segment = segment
        if segment is not None:
            self.fields["kind"].disabled = True  # the kind cannot change (actions.validate_segment)

    @staticmethod
    def initial_from(segment: Segment) -> dict[str, Any]:
        return {
            "name": segment.name, "description": segment.description, "kind": segment.kind,
            "conditions_json": pretty(segment.conditions),
        }  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        conditions = parse_conditions(self, data.get("conditions_json", ""))
        if conditions is None:
            return data
        try:
            data["segment"] = validate_segment(
                {"name": data["name"], "description": data["description"], "kind": data["kind"],
                 "conditions": conditions},
                current=self.segment,
            )  # fmt: skip
        except SegmentError as exc:
            field = "conditions_json" if exc.field == "conditions" else exc.field
            message = exc.message
            if exc.path is not None:
                message = _("Invalid condition: %(error)s") % {"error": exc.message}
            self.add_error(field if field in self.fields else None, message)
        return data


def pretty(conditions: Any) -> str:
    return json.dumps(conditions, ensure_ascii=False, indent=2) if conditions else ""


def parse_conditions(form: forms.Form, raw: str) -> Any:
    """The JSON in the conditions box ({} when empty), or None after adding the error to the form."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        form.add_error("conditions_json", _("Not valid JSON: %(error)s") % {"error": exc})
        return None


class PreviewForm(forms.Form):
    conditions_json = forms.CharField(required=False)


class MembersForm(forms.Form):
    """Contact ids pasted in (spaces, commas or new lines between them), to add to a list or remove from it."""

    contact_ids = forms.CharField(
        label=_("Contact ids"), widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The numbers in the contacts' addresses (/contacts/123/), separated by spaces, commas or lines."),
    )  # fmt: skip
    action = forms.ChoiceField(choices=[("add", _("Add")), ("remove", _("Remove"))], initial="add")

    def clean_contact_ids(self) -> list[int]:
        tokens = [t for t in ID_SEPARATORS.split(self.cleaned_data["contact_ids"]) if t]
        bad = [t for t in tokens if not t.isdigit()]
        if bad:
            raise forms.ValidationError(_("Not contact ids: %(values)s") % {"values": ", ".join(bad[:10])})
        if not tokens:
            raise forms.ValidationError(_("Give at least one contact id."))
        if len(tokens) > MAX_IDS:
            raise forms.ValidationError(_("At most %(n)d ids at a time.") % {"n": MAX_IDS})
        return list(dict.fromkeys(int(t) for t in tokens))
