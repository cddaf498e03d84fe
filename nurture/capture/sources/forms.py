from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.capture.models import Connection
from nurture.capture.sources import SOURCES

SECRETS = ("app_secret", "signing_secret", "verify_token", "access_token", "refresh_token")
HELP = {
    "account_id": _("Facebook: the page id. Zalo: the OA id."),
    "app_secret": _("Facebook: the app secret (signs the webhook). Zalo: the app's secret key (refreshes tokens)."),
    "signing_secret": _(
        "Zalo: the OA secret key. Google: the webhook key typed in the lead form. Webhook and call "
        "centre: the HMAC-SHA256 secret."
    ),
    "verify_token": _("Any text; type the same in Facebook's webhook settings."),
    "access_token": _("Facebook: a page access token with leads_retrieval. Zalo: the OA access token."),
}
KEEP = _("Leave blank to keep the one saved.")


def connection_form(channel: str) -> type[forms.ModelForm]:  # type: ignore[type-arg]
    """The settings form of one channel: the common fields and the ones its source uses."""
    names = ["name", "is_active", *SOURCES[channel].FIELDS, "source", "campaign"]

    class ConnectionForm(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Connection
            fields = names
            widgets: dict[str, Any] = {
                # Secrets are never sent back to the browser: left blank, the stored one is kept.
                **{n: forms.PasswordInput(render_value=False) for n in SECRETS},
                "token_expires_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            }
            help_texts = {n: f"{HELP.get(n, '')} {KEEP if n in SECRETS else ''}".strip() for n in names}

        def clean(self) -> dict[str, Any]:
            data = super().clean() or {}
            for name in SECRETS:
                if name in self.fields and not data.get(name):
                    data[name] = getattr(self.instance, name)
            return data

    return ConnectionForm


class BackfillForm(forms.Form):
    form_id = forms.CharField(label=_("Facebook form id"), max_length=40)
    since = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until (included)"), widget=forms.DateInput(attrs={"type": "date"}))


class PayloadForm(forms.Form):
    payload = forms.JSONField(label=_("Payload (JSON)"), widget=forms.Textarea(attrs={"rows": 16}))
