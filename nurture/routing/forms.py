from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import Team, User
from nurture.contacts.actions import OUTCOMES, OUTCOMES_OF
from nurture.lifecycle.models import Stage
from nurture.routing.models import AssignmentRule, SlaPolicy


def reps() -> Any:
    return User.objects.filter(is_active=True).exclude(role=User.Role.CARE_AGENT).order_by("username")


class ConditionsField(forms.CharField):
    """JSON conditions, blank for "every lead"."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> Any:
        text = (value or "").strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) and value else value


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    priority = forms.IntegerField(label=_("Priority (lower runs first)"), min_value=0, max_value=32000, initial=100)
    on_stage = forms.ModelChoiceField(
        label=_("Applies to"), queryset=Stage.objects.none(), required=False, empty_label=_("New leads"),
        help_text=_("Or contacts entering a stage: becoming SQL hands the lead to sales."),
    )  # fmt: skip
    conditions = ConditionsField(
        label=_("When (conditions, JSON; blank: every lead)"),
        help_text=_('e.g. {"field": "province", "op": "in", "value": ["Hà Nội", "Hải Phòng"]}'),
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False,
        help_text=_("Its sales reps join the rotation, including ones added later."),
    )  # fmt: skip
    members = forms.ModelMultipleChoiceField(
        label=_("Reps (rotation order)"), queryset=User.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    weights = forms.CharField(
        label=_("Weights"), required=False, max_length=2000,
        help_text=_("Weighted shares: username=weight, e.g. “sale11=3, sale12=1” (others weigh 1)."),
    )  # fmt: skip
    strategy = forms.ChoiceField(label=_("Strategy"), choices=AssignmentRule.Strategy.choices)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on_stage"].queryset = Stage.objects.filter(stage_set__is_active=True)  # type: ignore[attr-defined]
        self.fields["members"].queryset = reps()  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(rule: AssignmentRule) -> dict[str, Any]:
        members = list(rule.members.select_related("user"))
        return {
            "name": rule.name, "priority": rule.priority, "on_stage": rule.on_stage, "conditions": rule.conditions,
            "team": rule.team, "members": [m.user for m in members], "strategy": rule.strategy,
            "is_active": rule.is_active,
            "weights": ", ".join(f"{m.user.username}={m.weight}" for m in members if m.weight != 1),
        }  # fmt: skip

    def clean_weights(self) -> dict[str, int]:
        weights: dict[str, int] = {}
        for part in self.cleaned_data["weights"].replace("\n", ",").split(","):
            if not part.strip():
                continue
            name, _sep, number = part.partition("=")
            if not number.strip().isdigit() or int(number) < 1:
                raise forms.ValidationError(
                    _("“%(part)s”: write username=weight, a whole number ≥ 1.") % {"part": part}
                )
            weights[name.strip()] = int(number)
        return weights

    def rule_data(self) -> tuple[dict[str, Any], list[tuple[User, int]]]:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("members", "weights")}
        weights = self.cleaned_data["weights"]
        members = [(u, weights.get(u.username, 1)) for u in self.cleaned_data["members"]]
        return data, members


class CapacityForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), widget=forms.HiddenInput)
    max_per_day = forms.IntegerField(label=_("New leads per day"), min_value=0, required=False)
    max_open = forms.IntegerField(label=_("Open leads"), min_value=0, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = reps()  # type: ignore[attr-defined]
        self.fields["user"].label_from_instance = lambda user: user.display_name  # type: ignore[attr-defined]


class PolicyForm(forms.ModelForm):
    conditions = ConditionsField(label=_("For leads matching (conditions, JSON; blank: all)"))

    class Meta:
        model = SlaPolicy
        fields = ["name", "priority", "conditions", "first_response_minutes", "remind_before_minutes", "escalate",
                  "reclaim_after_minutes", "business_hours", "is_active"]  # fmt: skip


class AssignForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Give to"), queryset=User.objects.none(), required=False,
                                  empty_label=_("— the queue —"))  # fmt: skip
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = reps()  # type: ignore[attr-defined]


class BulkAssignForm(AssignForm):
    contacts = forms.CharField(widget=forms.MultipleHiddenInput, required=False)

    def clean_contacts(self) -> list[int]:
        values = self.data.getlist("contacts") if hasattr(self.data, "getlist") else []
        try:
            ids = sorted({int(v) for v in values})
        except ValueError as exc:
            raise forms.ValidationError(_("Not contact ids.")) from exc
        if not ids:
            raise forms.ValidationError(_("Tick at least one lead."))
        return ids


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k) for k in OUTCOMES_OF])
    outcome = forms.ChoiceField(choices=list(OUTCOMES.items()))
    body = forms.CharField(max_length=2000, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") and data.get("kind") and data["outcome"] not in OUTCOMES_OF[data["kind"]]:
            self.add_error("outcome", _("Not an outcome of this activity."))
        return data
