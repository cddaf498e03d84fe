import uuid

from django.db import migrations


# The active model (scoring.prediction.active_model) is held once its revision has a token (core.revisions); an
# install that never trained a model would otherwise query for it on every lead page.
def first_token(apps, schema_editor):
    Revision = apps.get_model("core", "Revision")
    Revision.objects.bulk_create([Revision(name="scoring-model", token=uuid.uuid4())], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_revision"),
        ("scoring", "0002_predictive_scoring"),
    ]

    operations = [migrations.RunPython(first_token, migrations.RunPython.noop)]
