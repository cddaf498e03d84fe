from __future__ import annotations

from django.db import transaction

from nurture.lifecycle.models import Stage, StageSet
from nurture.lifecycle.presets import DEFAULT_SET, PRESETS


def install_presets() -> None:
    """Create the shipped stage sets if missing; the default set is active when none is."""
    with transaction.atomic():
        for key, preset in PRESETS.items():
            stage_set, _ = StageSet.objects.get_or_create(
                key=key, defaults={"name_en": str(preset["name_en"]), "name_vi": str(preset["name_vi"])}
            )
            stages = preset["stages"]
            assert isinstance(stages, list)
            for position, (stage_key, name_en, name_vi) in enumerate(stages):
                Stage.objects.get_or_create(
                    stage_set=stage_set,
                    key=stage_key,
                    defaults={"name_en": name_en, "name_vi": name_vi, "position": position},
                )
        if not StageSet.objects.filter(is_active=True).exists():
            StageSet.objects.filter(key=DEFAULT_SET).update(is_active=True)
