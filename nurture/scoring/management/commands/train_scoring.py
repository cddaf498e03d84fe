from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from nurture.scoring import prediction
from nurture.scoring.predict import NotEnoughHistory


class Command(BaseCommand):
    help = (
        "Train the predictive conversion model on past leads, activate it and predict every open lead "
        "(`nurture train-scoring`)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = prediction.train_model(notes="nurture train-scoring")
        except NotEnoughHistory as exc:
            # The previous model (if any) stays active; exit 1 with the reason.
            raise CommandError(f"Not enough history to train a model: {exc}") from None
        m = version.metrics
        self.stdout.write(
            f"Model version #{version.pk} is active: {version.examples} past leads, {version.positives} converted; "
            f"AUC {m['auc']:.3f}, Brier {m['brier']:.3f}, top-decile lift {m['lift']:.2f} (5-fold cross-validation)"
        )
