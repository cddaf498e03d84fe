from __future__ import annotations

from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "nurture.scoring"
    label = "scoring"

    def ready(self) -> None:
        from nurture.core import revisions
        from nurture.scoring import jobs  # noqa: F401  (registers the re-scoring job)
        from nurture.scoring.models import ModelVersion, PointsRule
        from nurture.scoring.prediction import MODEL_REVISION

        revisions.watch("scoring", PointsRule)
        revisions.watch(MODEL_REVISION, ModelVersion)
