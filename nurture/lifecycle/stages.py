"""Lookups of the active stage set's stages, as held by lifecycle.active: checked against its revision, so a
process never files a lead under a stage of a set switched off in another process. Every capture reads them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import Model

from nurture.core import revisions
from nurture.lifecycle import active
from nurture.lifecycle.actions import install_presets
from nurture.lifecycle.models import Stage
from nurture.lifecycle.presets import ANONYMOUS_STAGE, ENTRY_STAGE

M = TypeVar("M", bound=Model)


def _held() -> active.ActiveSet:
    held = active.current()
    if held.stage_set is None:
        install_presets()  # a first run
        # Read afresh: this transaction's revision token may predate the presets another process just installed.
        held = active.build()
    return held


def active_set_id() -> int:
    stage_set = _held().stage_set
    assert stage_set is not None  # the presets make one active
    return stage_set.pk


def active_stages() -> list[Stage]:
    return sorted(_held().stages.values(), key=lambda stage: stage.position)


def open_stage_ids() -> list[int]:
    """The active set's stages a lead is still being worked in (neither won nor lost)."""
    return sorted(pk for pk, stage in _held().stages.items() if stage.outcome == Stage.Outcome.OPEN)


def attach(rows: Iterable[M], *fields: str) -> list[M]:
    """The rows, given their stages (`fields`: foreign keys to Stage) from the active set's held ones."""
    return revisions.attach(rows, fields, _held().stages)


def stage_id(key: str) -> int:
    return _held().ids[key]


def entry_stage_id(*, anonymous: bool = False) -> int:
    ids = _held().ids
    wanted = ANONYMOUS_STAGE if anonymous else ENTRY_STAGE
    if wanted in ids:
        return ids[wanted]
    # A custom stage set without these keys: new leads start in its first stage.
    return active_stages()[0].pk
