"""Lookups of the active stage set's stages, cached per process and keyed by the active set.

Every capture reads them. The key is the active set (lifecycle.active, checked against its revision), so a
process whose cache predates a switch of stage set (made in another process) never files a lead under an
inactive stage.
"""

from __future__ import annotations

from functools import lru_cache

from nurture.lifecycle import active
from nurture.lifecycle.actions import install_presets
from nurture.lifecycle.models import Stage, StageSet
from nurture.lifecycle.presets import ANONYMOUS_STAGE, ENTRY_STAGE


def active_set_id() -> int:
    found = active.current().stage_set
    if found is None:
        install_presets()
        found = StageSet.objects.filter(is_active=True).get()
    return found.pk


@lru_cache(maxsize=4)
def _stage_ids(set_id: int) -> dict[str, int]:
    return dict(Stage.objects.filter(stage_set_id=set_id).values_list("key", "id"))


def _active_stage_ids() -> dict[str, int]:
    return _stage_ids(active_set_id())


def active_stages() -> list[Stage]:
    held = active.current()
    if held.stage_set is None:
        active_set_id()  # installs the presets on a first run
        held = active.current()
    return sorted(held.stages.values(), key=lambda stage: stage.position)


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
    _stage_ids.cache_clear()
