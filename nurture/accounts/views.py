from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from nurture.accounts.actions import create_api_key, revoke_api_key
from nurture.accounts.models import ApiKey
from nurture.accounts.permissions import require_configure


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.LEADS_WRITE],
    )


@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    require_configure(request)
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _key, new_key = create_api_key(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,  # type: ignore[arg-type]
        )
        form = ApiKeyForm()
    keys = ApiKey.objects.select_related("created_by").order_by("-created_at")
    return render(request, "accounts/api_keys.html", {"form": form, "keys": keys, "new_key": new_key})


@login_required
@require_POST
def revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    require_configure(request)
    revoke_api_key(get_object_or_404(ApiKey, pk=key_id))
    messages.success(request, _("Key revoked."))
    return redirect("accounts:api_keys")
