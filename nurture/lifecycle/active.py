"""The active stage set with its stages and transition rules: every capture reads them, so each process holds
them until one of them changes (core.revisions)."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.core import revisions
from nurture.lifecycle.models import Stage, StageSet, TransitionRule

REVISION = "lifecycle"


@dataclass(frozen=True)
class ActiveSet:
    stage_set: StageSet | None  # None until the presets are installed
    stages: dict[int, Stage]
    ids: dict[str, int]  # stage key → id
    rules: tuple[TransitionRule, ...]  # the active ones in priority order, their from_stages loaded


def current() -> ActiveSet:
    return revisions.snapshot(REVISION, build)


def build() -> ActiveSet:
    """Read afresh (what current() holds)."""
    stage_set = StageSet.objects.filter(is_active=True).order_by("pk").first()
    if stage_set is None:
        return ActiveSet(None, {}, {}, ())
    rules = stage_set.rules.filter(is_active=True).prefetch_related("from_stages")
    stages = {s.pk: s for s in stage_set.stages.all()}
    return ActiveSet(stage_set, stages, {s.key: s.pk for s in stages.values()}, tuple(rules))


def watch() -> None:
    revisions.watch(REVISION, StageSet, Stage, TransitionRule, TransitionRule.from_stages.through)
