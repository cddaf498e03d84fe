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


SENDS = tuple(graphs.SEND_CHANNEL)
WEEKDAY_CHOICES = [("", _("any day")), ("0", _("Monday")), ("1", _("Tuesday")), ("2", _("Wednesday")),
                   ("3", _("Thursday")), ("4", _("Friday")), ("5", _("Saturday")), ("6", _("Sunday"))]  # fmt: skip
ARMS = 4  # arms of a split the form offers; the API takes more


def _number(label: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=0)


class StepForm(forms.Form):
    """One step, with the settings of its type. Which fields a type uses is in FIELDS; the page shows only those
    (all of them without JavaScript), and the graph's validation names the field at fault."""

    step_id = forms.RegexField(label=_("Step id"), regex=graphs.STEP_ID.pattern, max_length=50,
                               help_text=_("letters, digits, - and _"))  # fmt: skip
    type = forms.ChoiceField(label=_("Type"), choices=list(graphs.STEP_TYPES.items()))
    template = forms.TypedChoiceField(label=_("Message template"), required=False, coerce=int, empty_value=None)
    fallback = forms.ChoiceField(
        label=_("Without a Zalo route"), required=False,
        choices=[("skip", _("skip the message")), ("sms", _("send the SMS text"))],
    )  # fmt: skip
    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    body = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    script = forms.CharField(label=_("Call script"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    field = forms.CharField(label=_("Field"), required=False, max_length=60,
                            help_text=_("need, province, job_title … or custom.<name>"))  # fmt: skip
    value = forms.CharField(label=_("New value"), required=False, max_length=2000)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=60)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    event = forms.CharField(label=_("Event type"), required=False, max_length=40,
                            help_text=_("e.g. email_opened, form_submitted, journey_reward"))  # fmt: skip
    where = JSONField(label=_("Only events where (a condition on the event, JSON; blank: any)"))
    user = forms.ChoiceField(label=_("Assign to"), required=False)
    url = forms.URLField(label=_("URL"), required=False, max_length=500, assume_scheme="https")
    journey = forms.TypedChoiceField(label=_("Journey"), required=False, coerce=int, empty_value=None)
    days = _number(_("Days"))
    hours = _number(_("Hours"))
    minutes = _number(_("Minutes"))
    weekday = forms.ChoiceField(label=_("Weekday"), required=False, choices=WEEKDAY_CHOICES)
    time = forms.RegexField(label=_("Time (HH:MM, the contact's time zone)"), required=False,
                            regex=graphs.HH_MM.pattern)  # fmt: skip
    timeout_days = _number(_("Stop waiting after (days)"))
    timeout_hours = _number(_("and hours"))
    condition = JSONField(label=_("Condition (JSON, as in segments)"),
                          help_text=_('e.g. {"event": "email_opened", "within_days": 7}'))  # fmt: skip
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)
    next = forms.ChoiceField(label=_("Then go to"), required=False)
    yes = forms.ChoiceField(label=_("If yes, go to"), required=False)
    no = forms.ChoiceField(label=_("If no, go to"), required=False)
    timeout_next = forms.ChoiceField(label=_("On timeout, go to"), required=False)

    # The step types that use each field; a field not named here is used by every type.
    FIELDS: dict[str, tuple[str, ...]] = {
        "template": SENDS, "fallback": ("send_zalo",), "title": ("notify_owner",), "body": ("notify_owner",),
        "script": ("call_task",), "field": ("update_field",), "value": ("update_field",),
        "tag": ("add_tag", "remove_tag"), "stage": ("change_stage",), "event": ("add_points", "wait_event"),
        "where": ("wait_event",), "user": ("assign",), "url": ("webhook",), "journey": ("enrol",),
        "days": ("wait",), "hours": ("wait",), "minutes": ("wait",), "weekday": ("wait_until",),
        "time": ("wait_until",), "timeout_days": ("wait_event",), "timeout_hours": ("wait_event",),
        "condition": ("branch",), "reason": ("exit",), "yes": ("branch",), "no": ("branch",),
        "timeout_next": ("wait_event",),
        "next": tuple(t for t in graphs.STEP_TYPES if t not in ("branch", "split", "exit")),
        **{f"arm{i}_{part}": ("split",) for i in range(ARMS) for part in ("name", "percent", "next")},
    }  # fmt: skip

    def __init__(self, *args: Any, step_ids: list[str], choices: dict[str, list[tuple[Any, str]]],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        targets = [("", _("— the step after it —")), *[(s, s) for s in step_ids]]
        for name in TARGETS:
            self.fields[name].choices = targets  # type: ignore[attr-defined]
        for i in range(ARMS):
            self.fields[f"arm{i}_name"] = forms.CharField(label=_("Arm %(n)d: name") % {"n": i + 1}, required=False,
                                                          max_length=40)  # fmt: skip
            self.fields[f"arm{i}_percent"] = forms.FloatField(label=_("percent"), required=False, min_value=0,
                                                              max_value=100)  # fmt: skip
            self.fields[f"arm{i}_next"] = forms.ChoiceField(label=_("goes to"), required=False, choices=targets[1:])
        blank = [("", "—")]
        for name in ("template", "stage", "user", "journey"):
            self.fields[name].choices = blank + choices[name]  # type: ignore[attr-defined]

    def rows(self) -> list[tuple[forms.BoundField, str]]:
        """Each field with the step types that use it ("" for all), for the page to show the right ones."""
        return [(self[name], " ".join(self.FIELDS.get(name, ()))) for name in self.fields]

    @classmethod
    def initial_from(cls, step_id: str, step: dict[str, Any]) -> dict[str, Any]:
        initial = {"step_id": step_id, **{k: v for k, v in step.items() if k in cls.base_fields}}
        timeout = step.get("timeout") or {}
        initial.update(timeout_days=timeout.get("days"), timeout_hours=timeout.get("hours"))
        for i, arm in enumerate((step.get("arms") or [])[:ARMS]):
            initial.update({f"arm{i}_{part}": arm.get(part) for part in ("name", "percent", "next")})
        return initial

    def step(self, old: dict[str, Any] | None = None) -> dict[str, Any]:
        """The step as the graph stores it. Settings the form does not show (an add_points step's event data, set
        through the API) are kept when the type stays the same."""
        data = self.cleaned_data
        kind = data["type"]
        step: dict[str, Any] = {}
        if old and old.get("type") == kind:
            step.update({k: v for k, v in old.items() if k not in self.base_fields and k not in ("timeout", "arms")})
        step["type"] = kind
        for name, types in self.FIELDS.items():
            value = data.get(name)
            if kind not in types or name in ("timeout_days", "timeout_hours") or name.startswith("arm"):
                continue
            if value not in (None, "", {}) or name == "value":  # a field may be set to blank
                step[name] = value
        if kind == "wait_until":
            step["weekday"] = int(data["weekday"]) if data.get("weekday") else None
        if kind == "send_zalo":
            step.setdefault("fallback", "skip")
        if kind == "wait_event" and (data.get("timeout_days") or data.get("timeout_hours")):
            step["timeout"] = {"days": data.get("timeout_days") or 0, "hours": data.get("timeout_hours") or 0}
        if kind == "split":
            step["arms"] = [
                {"name": data[f"arm{i}_name"], "percent": _whole(data[f"arm{i}_percent"]), "next": data[f"arm{i}_next"]}
                for i in range(ARMS) if data.get(f"arm{i}_name") or data.get(f"arm{i}_percent")
            ]  # fmt: skip
        return step

    def field_for(self, problem_field: str) -> str | None:
        """The form field a graph problem names ("timeout.days" → timeout_days, "arms.1.next" → arm1_next)."""
        name = {"id": "step_id", "timeout.days": "timeout_days", "timeout.hours": "timeout_hours"}.get(problem_field)
        if name is None and problem_field.startswith("arms."):
            _arms, index, part = (problem_field.split(".") + ["", ""])[:3]
            name = f"arm{index}_{part}"
        name = name or problem_field
        return name if name in self.fields else None


def _whole(percent: float | None) -> float | int | None:
    return int(percent) if percent is not None and percent == int(percent) else percent


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


def step_choices(journey: Journey) -> dict[str, list[tuple[Any, str]]]:
    """What a step may name: message templates, stages of the active set, active users, other journeys."""
    from nurture.accounts.models import User
    from nurture.lifecycle import stages
    from nurture.messaging.models import Template

    templates = Template.objects.filter(is_active=True).order_by("channel", "name", "language")
    users = User.objects.filter(is_active=True).order_by("first_name", "username")
    return {
        "template": [(t.pk, f"{t.name} ({t.get_channel_display()}, {t.language})") for t in templates],
        "stage": [(s.key, s.name) for s in stages.active_stages()],
        "user": [(u.username, u.display_name) for u in users],
        "journey": list(Journey.objects.exclude(pk=journey.pk).order_by("name").values_list("pk", "name")),
    }
