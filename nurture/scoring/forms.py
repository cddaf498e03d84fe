from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.contacts.conditions import CONTACT_FIELDS, OPS_BY_KIND
from nurture.scoring.actions import RuleError, validate_rule
from nurture.scoring.models import PointsRule

CONDITION_ROWS = 3
OPS = sorted({op for ops in OPS_BY_KIND.values() for op in ops})
LIST_OPS = ("in", "not_in")


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=PointsRule.Kind.choices)
    event_type = forms.CharField(
        label=_("Event type"), max_length=40, required=False,
        help_text=_("Behaviour rules: e.g. page_viewed, email_opened, webinar_attended, form_submitted."),
    )  # fmt: skip
    points = forms.IntegerField(
        label=_("Points"), min_value=-1000, max_value=1000, help_text=_("Negative to subtract.")
    )
    cap = forms.IntegerField(label=_("At most (times)"), min_value=1, required=False)
    cap_period = forms.ChoiceField(label=_("Period"), choices=PointsRule.Period.choices, initial="week")
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    conditions_json = forms.CharField(
        label=_("Conditions (JSON, advanced)"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Used instead of the rows above when filled, e.g. {\"any\": [...]}."),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(CONDITION_ROWS):
            self.fields[f"c{i}_field"] = forms.CharField(label=_("Field"), required=False, max_length=80)
            self.fields[f"c{i}_op"] = forms.ChoiceField(label=_("Operator"), required=False,
                                                        choices=[("", "—"), *((op, op) for op in OPS)])  # fmt: skip
            self.fields[f"c{i}_value"] = forms.CharField(label=_("Value"), required=False, max_length=200)

    @staticmethod
    def initial_from(rule: PointsRule) -> dict[str, Any]:
        initial: dict[str, Any] = {k: getattr(rule, k) for k in ("name", "kind", "event_type", "points", "cap",
                                                                  "cap_period", "is_active")}  # fmt: skip
        rows = rule.conditions if isinstance(rule.conditions, list) else rule.conditions.get("all", [rule.conditions])
        simple = all(isinstance(r, dict) and "field" in r for r in rows) and len(rows) <= CONDITION_ROWS
        if simple:
            for i, row in enumerate(rows):
                value = row.get("value", "")
                shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                initial.update({f"c{i}_field": row["field"], f"c{i}_op": row.get("op", ""), f"c{i}_value": shown})
        elif rule.conditions:
            initial["conditions_json"] = json.dumps(rule.conditions, ensure_ascii=False)
        return initial

    def condition_rows(self) -> list[list[forms.BoundField]]:
        return [[self[f"c{i}_field"], self[f"c{i}_op"], self[f"c{i}_value"]] for i in range(CONDITION_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        conditions: Any
        if data.get("conditions_json", "").strip():
            try:
                conditions = json.loads(data["conditions_json"])
            except json.JSONDecodeError as exc:
                self.add_error("conditions_json", _("Not valid JSON: %(error)s") % {"error": exc})
                return data
        else:
            rows = [self._row(i, data) for i in range(CONDITION_ROWS)]
            rows = [r for r in rows if r]
            if data["kind"] == PointsRule.Kind.ATTRIBUTE:
                conditions = rows[0] if len(rows) == 1 else ({"all": rows} if rows else [])
            else:
                conditions = rows
        data["conditions"] = conditions
        rule = {k: data.get(k) for k in ("name", "kind", "event_type", "points", "cap", "cap_period", "conditions")}
        try:
            validate_rule(rule)
        except RuleError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    @staticmethod
    def _row(i: int, data: dict[str, Any]) -> dict[str, Any] | None:
        field, op, raw = data.get(f"c{i}_field", "").strip(), data.get(f"c{i}_op", ""), data.get(f"c{i}_value", "")
        if not field:
            return None
        row: dict[str, Any] = {"field": field, "op": op}
        if op in LIST_OPS:
            row["value"] = [_typed(v.strip(), field) for v in raw.split(",") if v.strip()]
        elif op not in ("is_empty", "is_not_empty"):
            row["value"] = _typed(raw.strip(), field)
        return row

    def rule_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        keys = ("name", "kind", "event_type", "points", "cap", "cap_period", "is_active", "conditions")
        return {k: data[k] for k in keys}


def _typed(value: str, field: str) -> Any:
    """Numbers stay numbers for event and custom properties (stored as JSON)."""
    if field in CONTACT_FIELDS:
        return value
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


class ScoringSettingsForm(forms.Form):
    half_life_days = forms.FloatField(
        label=_("Engagement half-life (days)"), min_value=0, max_value=3650,
        help_text=_("Engagement points lose half their value after this many days; 0 turns decay off."),
    )  # fmt: skip
    hot = forms.IntegerField(label=_("Hot from (score)"))
    warm = forms.IntegerField(label=_("Warm from (score)"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "hot" in data and "warm" in data and data["warm"] >= data["hot"]:
            self.add_error("warm", _("Warm must start below hot."))
        return data
