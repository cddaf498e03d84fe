from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.lifecycle.actions import StageError, StageInput, validate_rule
from nurture.lifecycle.checklists import FRAMEWORKS, ITEMS
from nurture.lifecycle.models import ChecklistItem, Stage, StageSet, TransitionRule


def _json_field(label: Any, help_text: Any) -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, widget=forms.Textarea(attrs={"rows": 4}))


class TransitionRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    conditions = _json_field(
        _("When (conditions, JSON)"),
        _('e.g. {"field": "engagement_score", "op": "gte", "value": 50} or {"all": [{"event": '
          '"quote_requested", "within_days": 30}, {"field": "bant_complete", "op": "eq", "value": true}]}'),
    )  # fmt: skip
    to_stage = forms.ModelChoiceField(label=_("Move to"), queryset=Stage.objects.none())
    from_stages = forms.ModelMultipleChoiceField(
        label=_("Only from (empty: any earlier stage)"), queryset=Stage.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    priority = forms.IntegerField(label=_("Priority (lower runs first)"), min_value=0, max_value=32000, initial=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, stage_set: StageSet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stages = stage_set.stages.order_by("position")
        self.fields["to_stage"].queryset = stages  # type: ignore[attr-defined]
        self.fields["from_stages"].queryset = stages  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(rule: TransitionRule) -> dict[str, Any]:
        return {
            "name": rule.name, "conditions": json.dumps(rule.conditions, ensure_ascii=False),
            "to_stage": rule.to_stage, "from_stages": list(rule.from_stages.all()), "priority": rule.priority,
            "is_active": rule.is_active,
        }  # fmt: skip

    def clean_conditions(self) -> Any:
        try:
            return json.loads(self.cleaned_data["conditions"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                validate_rule({**data, "from_stages": list(data.get("from_stages") or [])})
            except StageError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    def rule_data(self) -> dict[str, Any]:
        return {**self.cleaned_data, "from_stages": list(self.cleaned_data["from_stages"])}


class StageRowForm(forms.Form):
    pk = forms.IntegerField(required=False, widget=forms.HiddenInput)
    key = forms.SlugField(label=_("Key"), max_length=50)
    name_en = forms.CharField(label=_("English name"), max_length=100)
    name_vi = forms.CharField(label=_("Vietnamese name"), max_length=100)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Stage.Outcome.choices)
    requires = forms.MultipleChoiceField(
        label=_("Needs confirmed"), choices=list(ITEMS.items()), required=False, widget=forms.CheckboxSelectMultiple
    )
    returns_to = forms.CharField(label=_("May return to (keys)"), max_length=500, required=False)

    def stage_input(self) -> StageInput:
        data = self.cleaned_data
        returns = [k.strip() for k in data["returns_to"].split(",") if k.strip()]
        return StageInput(
            pk=data["pk"], key=data["key"], name_en=data["name_en"], name_vi=data["name_vi"],
            outcome=data["outcome"], requires=list(data["requires"]), returns_to=returns,
        )  # fmt: skip


class StageSetForm(forms.Form):
    backward = forms.ChoiceField(label=_("Backward moves"), choices=StageSet.Backward.choices)


StageFormSet = forms.formset_factory(StageRowForm, extra=2, can_delete=True)


def stage_initial(stage_set: StageSet) -> list[dict[str, Any]]:
    return [
        {
            "pk": s.pk,
            "key": s.key,
            "name_en": s.name_en,
            "name_vi": s.name_vi,
            "outcome": s.outcome,
            "requires": s.requires,
            "returns_to": ", ".join(r.key for r in s.returns_to.order_by("position")),
        }  # fmt: skip
        for s in stage_set.stages.order_by("position").prefetch_related("returns_to")
    ]


class ActivateForm(forms.Form):
    """One choice per stage of the active set: where its contacts go in the new set."""

    def __init__(self, *args: Any, old: StageSet, new: StageSet, initial_map: dict[int, int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.old_stages = list(old.stages.order_by("position"))
        choices = [(s.pk, s.name) for s in new.stages.order_by("position")]
        for stage in self.old_stages:
            self.fields[f"map_{stage.pk}"] = forms.TypedChoiceField(
                label=stage.name, choices=choices, coerce=int, initial=initial_map.get(stage.pk)
            )

    def mapping(self) -> dict[int, int]:
        return {s.pk: self.cleaned_data[f"map_{s.pk}"] for s in self.old_stages}


class ChecklistForm(forms.Form):
    """What the checklist posts; lifecycle/_checklist.html writes these inputs by hand (see `checklist_for`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item, label in ITEMS.items():
            self.fields[f"{item}_value"] = forms.CharField(label=label, max_length=500, required=False)
            self.fields[f"{item}_confirmed"] = forms.BooleanField(label=_("Confirmed"), required=False)

    def items(self) -> dict[str, tuple[str, bool]]:
        d = self.cleaned_data
        return {i: (d[f"{i}_value"].strip(), d[f"{i}_confirmed"]) for i in ITEMS}


@dataclass(frozen=True)
class ChecklistRow:
    item: str
    label: str
    value: str
    confirmed: ChecklistItem | None  # who confirmed it when; None while unconfirmed
    repeated: bool  # an item shared by two frameworks (Authority) has its inputs in the first only


def checklist_for(contact_id: int) -> list[tuple[str, list[ChecklistRow]]]:
    """The contact page's checklist per framework, filled with what is recorded. Plain rows for a template that
    writes the ChecklistForm's inputs itself: fourteen widget templates took about 6 ms of that page
    (bench/pipeline.py)."""
    recorded = {row.item: row for row in ChecklistItem.objects.filter(contact_id=contact_id).select_related(
        "confirmed_by"
    )}  # fmt: skip
    shown: set[str] = set()
    result = []
    for name, items in FRAMEWORKS.values():
        rows = []
        for i in items:
            row = recorded.get(i)
            rows.append(ChecklistRow(
                item=i, label=str(ITEMS[i]), value=row.value if row else "",
                confirmed=row if row and row.confirmed else None, repeated=i in shown,
            ))  # fmt: skip
            shown.add(i)
        result.append((name, rows))
    return result
