from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.messaging.models import ChannelPolicy, Template


class ParamsField(forms.CharField):
    """ZNS parameters as JSON: {"customer_name": "{{ full_name }}"}; blank for none."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value: Any) -> Any:
        text = (value or "").strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) and value else value


class TemplateForm(forms.ModelForm):
    zns_params = ParamsField(
        label=_("ZNS parameters"), required=False,
        help_text=_('JSON: each parameter of the approved ZNS template and its value: {"name": "{{ full_name }}"}'),
    )  # fmt: skip

    class Meta:
        model = Template
        fields = ["name", "channel", "language", "subject", "body", "sms_body", "zns_template_id", "zns_params",
                  "is_active"]  # fmt: skip
        widgets = {"body": forms.Textarea(attrs={"rows": 8}), "sms_body": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "body": _("Plain text with variables such as {{ greeting }}, {{ owner.name }}, {{ unsubscribe_url }}."),
            "sms_body": _("Zalo only: sent as an SMS when the journey falls back to SMS."),
        }

    def _post_clean(self) -> None:
        # The model is saved by actions.save_template, which checks the variables; skip the model's own checks.
        pass


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ChannelPolicy
        fields = ["max_messages", "per_days", "quiet_from", "quiet_to"]
        widgets = {name: forms.TimeInput(attrs={"type": "time"}) for name in ("quiet_from", "quiet_to")}
