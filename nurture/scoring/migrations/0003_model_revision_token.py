from django.db import migrations

from nurture.core.revisions import first_token


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_revision"),
        ("scoring", "0002_predictive_scoring"),
    ]

    # The active model (scoring.prediction.active_model) is held once its revision has a token; an install that
    # never trained a model would otherwise query for it on every lead page.
    operations = [first_token("scoring-model")]
