from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.identity.matching import DEFAULT_WEIGHTS, MatchConfig

LEVELS = ("agree", "partial", "disagree")
FIELD_LABELS = {
    "name": _("Name"), "phone": _("Phone"), "email": _("Email"), "external_id": _("Zalo / Facebook / external id"),
    "birth_date": _("Birth date"), "address": _("Address"), "province": _("Province"), "company": _("Company"),
}  # fmt: skip


class DedupeForm(forms.Form):
    dry_run = forms.BooleanField(label=_("Dry run: only write the report"), required=False, initial=True)
    auto_merge_above = forms.FloatField(
        label=_("Merge pairs scoring at least"), required=False, min_value=0, max_value=100,
        help_text=_("Empty: the auto-merge threshold of the settings."),
    )  # fmt: skip


class MatchSettingsForm(forms.Form):
    auto_merge = forms.FloatField(label=_("Auto-merge threshold"), min_value=0, max_value=100)
    review = forms.FloatField(label=_("Review threshold"), min_value=0, max_value=100)
    prior = forms.FloatField(label=_("Prior (evidence needed before a match)"), min_value=0, max_value=30)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in DEFAULT_WEIGHTS:
            for level in LEVELS:
                self.fields[f"{field}_{level}"] = forms.FloatField(
                    label=f"{FIELD_LABELS[field]}: {level}", min_value=-30, max_value=30
                )

    @staticmethod
    def initial_from(config: MatchConfig) -> dict[str, float]:
        initial = {"auto_merge": config.auto_merge, "review": config.review, "prior": config.prior}
        for field, weights in config.weights.items():
            initial.update({f"{field}_{level}": w for level, w in zip(LEVELS, weights, strict=True)})
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "auto_merge" in data and "review" in data and data["review"] > data["auto_merge"]:
            self.add_error("review", _("The review threshold cannot be above the auto-merge threshold."))
        return data

    def weights(self) -> dict[str, list[float]]:
        return {f: [self.cleaned_data[f"{f}_{level}"] for level in LEVELS] for f in DEFAULT_WEIGHTS}

    def rows(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(FIELD_LABELS[f], [self[f"{f}_{level}"] for level in LEVELS]) for f in DEFAULT_WEIGHTS]
