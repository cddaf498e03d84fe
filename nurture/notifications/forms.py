from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import User
from nurture.notifications.models import Notification, WebhookChannel


class ChannelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.URLField(
        label=_("URL"), max_length=500, assume_scheme="https",
        help_text=_("Where notices are POSTed (http or https)."),
    )  # fmt: skip
    secret = forms.CharField(
        label=_("Secret"), max_length=100, required=False,
        help_text=_("Signs each request (X-Nurture-Signature); left empty, one is generated."),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    kinds = forms.MultipleChoiceField(
        label=_("Kinds"), choices=Notification.Kind.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every kind."),
    )  # fmt: skip
    user = forms.ModelChoiceField(
        label=_("Only the notices of"), queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False, empty_label=_("every user"),
    )  # fmt: skip

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("Use an http:// or https:// address."))
        return url

    @staticmethod
    def initial_from(channel: WebhookChannel) -> dict[str, Any]:
        return {
            "name": channel.name, "url": channel.url, "secret": channel.secret, "is_active": channel.is_active,
            "kinds": channel.kinds, "user": channel.user,
        }  # fmt: skip
