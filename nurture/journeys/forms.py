from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.journeys import graph as graphs
from nurture.journeys.models import Journey

TARGETS = ("next", "yes", "no", "timeout_next")


class JSONField(forms.CharField):
    """A JSON object typed in a text area; blank is {}."""

    widget = forms.Textarea(attrs={"rows": 3, "class": "mono"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> Any:
        text = (value or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError(_("Expected a JSON object {…}."))
        return parsed

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) and value else value


class JourneyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger = JSONField(
        label=_("Trigger (JSON; blank: manual enrolment only)"),
        help_text=_('e.g. {"type": "event", "event": "form_submitted"}, {"type": "stage", "stage": "mql"}, '
                    '{"type": "segment", "segment": 3}, {"type": "score_band", "band": "hot"}, '
                    '{"type": "date", "field": "birth_date"}'),
    )  # fmt: skip
    goal = JSONField(label=_("Goal (a contact condition, JSON; blank: none)"),
                     help_text=_('e.g. {"field": "stage", "op": "eq", "value": "customer"}'))  # fmt: skip
    reenrol = forms.ChoiceField(label=_("Re-enrolment"), choices=Journey.Reenrol.choices)
    reenrol_days = forms.IntegerField(label=_("Re-enrol after (days)"), min_value=1, required=False)
    quiet_hours = forms.BooleanField(label=_("Hold messages during quiet hours"), required=False, initial=True)
    exit_on_unsubscribe = forms.BooleanField(label=_("Exit on unsubscribe"), required=False, initial=True)

    @staticmethod
    def initial_from(journey: Journey) -> dict[str, Any]:
        return {name: getattr(journey, name) for name in JourneyForm.base_fields}


class StepForm(forms.Form):
    step_id = forms.RegexField(label=_("Step id"), regex=graphs.STEP_ID.pattern, max_length=50,
                               help_text=_("letters, digits, - and _"))  # fmt: skip
    type = forms.ChoiceField(label=_("Type"), choices=list(graphs.STEP_TYPES.items()))
    next = forms.ChoiceField(label=_("Then go to"), required=False)
    yes = forms.ChoiceField(label=_("Branch: if yes"), required=False)
    no = forms.ChoiceField(label=_("Branch: if no"), required=False)
    timeout_next = forms.ChoiceField(label=_("Wait for an event: on timeout"), required=False)
    params = JSONField(
        label=_("Settings (JSON)"),
        help_text=_('send_*: {"template": 12} (zalo: "fallback": "sms"); notify_owner: {"title": "…"}; '
                    'call_task: {"script": "…"}; update_field: {"field": "need", "value": "…"}; add_tag: {"tag": "…"}; '
                    'change_stage: {"stage": "mql"}; add_points: {"event": "journey_reward"}; assign: {"user": "…"}; '
                    'webhook: {"url": "https://…"}; enrol: {"journey": 3}; wait: {"days": 2}; '
                    'wait_until: {"weekday": 0, "time": "09:00"}; wait_event: {"event": "…", "timeout": {"days": 3}}; '
                    'branch: {"condition": {…}}; split: {"arms": [{"name": "A", "percent": 50, "next": "…"}, …]}; '
                    'exit: {"reason": "…"}'),
    )  # fmt: skip

    def __init__(self, *args: Any, step_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("— the step after it —")), *[(s, s) for s in step_ids]]
        for name in TARGETS:
            self.fields[name].choices = choices  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(step_id: str, step: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in step.items() if k not in ("type", *TARGETS)}
        return {"step_id": step_id, "type": step["type"], "params": params, **{k: step.get(k, "") for k in TARGETS}}

    def step(self) -> dict[str, Any]:
        data = self.cleaned_data
        step = {**data["params"], "type": data["type"]}
        step.update({k: data[k] for k in TARGETS if data.get(k)})
        return step


class TestForm(forms.Form):
    contact = forms.IntegerField(label=_("Contact id"), min_value=1)
    events_happen = forms.BooleanField(label=_("Awaited events happen"), required=False)


class EnrolForm(forms.Form):
    contacts = forms.CharField(label=_("Contact ids"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=_("separated by commas, spaces or lines; at most 1,000"))  # fmt: skip
    segment = forms.IntegerField(label=_("or a segment / list id"), required=False, min_value=1)

    def clean_contacts(self) -> list[int]:
        text = self.cleaned_data["contacts"].replace(",", " ").split()
        try:
            ids = sorted({int(v) for v in text})
        except ValueError as exc:
            raise forms.ValidationError(_("Contact ids are numbers.")) from exc
        if len(ids) > 1000:
            raise forms.ValidationError(_("At most 1,000 contacts at once."))
        return ids
