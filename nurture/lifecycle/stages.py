"""Lookups of stages, cached per process: stages change rarely and are read on every capture."""

from __future__ import annotations

from functools import lru_cache

from nurture.lifecycle.actions import install_presets
from nurture.lifecycle.models import Stage
from nurture.lifecycle.presets import ANONYMOUS_STAGE, ENTRY_STAGE


@lru_cache(maxsize=1)
def _active_stage_ids() -> dict[str, int]:
    ids = dict(Stage.objects.filter(stage_set__is_active=True).values_list("key", "id"))
    if not ids:
        install_presets()
        ids = dict(Stage.objects.filter(stage_set__is_active=True).values_list("key", "id"))
    return ids


def active_stages() -> list[Stage]:
    _active_stage_ids()
    return list(Stage.objects.filter(stage_set__is_active=True).order_by("position"))


def stage_id(key: str) -> int:
    return _active_stage_ids()[key]


def entry_stage_id(*, anonymous: bool = False) -> int:
    ids = _active_stage_ids()
    wanted = ANONYMOUS_STAGE if anonymous else ENTRY_STAGE
    if wanted in ids:
        return ids[wanted]
    # A custom stage set without these keys: new leads start in its first stage.
    return active_stages()[0].pk


def clear_cache() -> None:
    _active_stage_ids.cache_clear()
